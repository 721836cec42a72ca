"""Checks on the reference notebooks that nbmake can't make: what a cell's own output contains."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import create_engine, inspect, text

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
REQUEST_OUTPUT = ("Reading item", "looking up order", "order 0 requested", "there is no order 0")


def _execute(name: str, tmp_path: Path) -> Any:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return notebook


def _visible_text(cell: Any) -> str:
    """Everything a cell shows as text: streams, tracebacks and plain-text results."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.extend(output["traceback"])
        else:
            parts.append(json.dumps(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def logging_notebook(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _execute("26_logging.ipynb", tmp_path_factory.mktemp("logging"))


def test_endpoint_logging_and_prints_stay_out_of_every_cell(logging_notebook: Any) -> None:
    # The notebook itself asserts that these lines are in the request log.
    for cell in logging_notebook.cells:
        if cell.cell_type == "code":
            shown = _visible_text(cell)
            assert not [text for text in REQUEST_OUTPUT if text in shown], (cell.source, shown)


def test_the_probing_cell_shows_nothing(logging_notebook: Any) -> None:
    probe = next(c for c in logging_notebook.cells if c.source.startswith('r = client.get("/items/3")'))
    assert probe.outputs == []


def test_cell_code_logging_still_shows_in_the_cell(logging_notebook: Any) -> None:
    # Proves the check above looks at real outputs: logging from a cell does reach the cell.
    cell = next(
        c for c in logging_notebook.cells if c.source.startswith('logger.warning("a warning from cell')
    )
    assert "a warning from cell code" in _visible_text(cell)


# --- every response is checked: status, body and headers -----------------------------------------

REFERENCE_NOTEBOOKS = sorted(NOTEBOOKS.glob("[12][0-9]_*.ipynb"))
DOC = NOTEBOOKS.parent / "docs" / "reference-changes.md"

# `r = client.get(...)`, `r = ex.send()`, `with client.stream(...) as r:`; `served` is gunicorn (28).
_RESPONSE = re.compile(
    r"^\s*(?:(?P<var>\w+)\s*=\s*(?:await\s+)?|with\s+)"
    r"(?:\w*client\w*|live|ex|tc|served)\."
    r"(?:get|post|put|patch|delete|options|head|request|send|stream)\("
    r"(?:.*\bas\s+(?P<stream>\w+):)?"
)
_BODY = (".json()", ".text", ".content", ".iter_lines(", ".iter_bytes(", ".read(")
# The reference's own tests, kept verbatim; the cell after them checks the same request's headers.
_VERBATIM = {("22_testing.ipynb", "from fastapi.testclient import TestClient")}


def unchecked_responses(source: str) -> list[str]:
    """Responses in `source` whose status, headers or body no line up to the next response checks."""
    lines = source.splitlines()
    found = []
    for number, line in enumerate(lines):
        match = _RESPONSE.match(line)
        if match and (match["var"] or match["stream"]):
            found.append((number, match["var"] or match["stream"]))
    problems = []
    for k, (number, var) in enumerate(found):
        end = next((n for n, v in found[k + 1 :] if v == var), len(lines))
        block = "\n".join(lines[number:end])
        checks = {
            "status": f"{var}.status_code" in block,
            "headers": f"{var}.headers" in block,
            "body": any(f"{var}{marker}" in block for marker in _BODY),
        }
        missing = [what for what, checked in checks.items() if not checked]
        if missing:
            problems.append(
                f"line {number + 1} `{lines[number].strip()}`: no check of its {', '.join(missing)}"
            )
    return problems


def _code_cells(path: Path) -> list[Any]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", REFERENCE_NOTEBOOKS, ids=[p.name for p in REFERENCE_NOTEBOOKS])
def test_every_response_is_checked_for_status_body_and_headers(path: Path) -> None:
    problems = [
        f"cell {cell.get('id')}: {problem}"
        for cell in _code_cells(path)
        if (path.name, cell.source.split("\n", 1)[0]) not in _VERBATIM
        for problem in unchecked_responses(cell.source)
    ]
    assert not problems, "\n".join(problems)


def test_the_response_check_sees_a_missing_header_check() -> None:
    assert unchecked_responses('r = client.get("/")\nassert r.status_code == 200\nassert r.json() == {}') == [
        'line 1 `r = client.get("/")`: no check of its headers'
    ]
    streamed = (
        'with client.stream("GET", "/") as r:\n    assert r.status_code == 200\nlines = list(r.iter_lines())'
    )
    assert unchecked_responses(streamed) == [
        'line 1 `with client.stream("GET", "/") as r:`: no check of its headers'
    ]
    assert unchecked_responses("x = settings.get('a')") == []


# --- no working credential in a notebook ----------------------------------------------------------

KNOWN_SECRETS = ("swordfish", "fake-super-secret-token", "your-secret-key")
PASSWORD_HASH = re.compile(r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


@pytest.mark.parametrize("path", REFERENCE_NOTEBOOKS, ids=[p.name for p in REFERENCE_NOTEBOOKS])
def test_no_code_cell_holds_a_known_password_or_a_password_hash(path: Path) -> None:
    for cell in _code_cells(path):
        assert not [s for s in KNOWN_SECRETS if s in cell.source], (cell.get("id"), cell.source)
        assert not PASSWORD_HASH.search(cell.source), (cell.get("id"), cell.source)


# --- the changes table: each error or warning it names is shown ------------------------------------

_ERROR_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Warning|DeprecatedSince20)\b")


def _changes_table() -> list[list[str]]:
    lines = DOC.read_text(encoding="utf-8").split("\n\n| Reference section |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in lines.splitlines()[2:] if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row.strip()[1:-1])] for row in rows]


def test_each_error_the_changes_table_names_is_shown_in_its_notebook() -> None:
    rows = _changes_table()
    assert len(rows) >= 25, rows
    for section, _snippet, happens, _current, numbers in rows:
        paths = [next(NOTEBOOKS.glob(f"{number}_*.ipynb")) for number in re.findall(r"\b\d\d\b", numbers)]
        assert paths, f"{section}: the table names no notebook that shows it ({numbers!r})"
        code = "\n".join(cell.source for path in paths for cell in _code_cells(path))
        # AssertionError names a wrong answer, which the notebooks show by their assertions.
        for name in sorted(set(_ERROR_NAME.findall(happens)) - {"AssertionError"}):
            assert name in code, f"{section}: {name} appears in no code cell of notebook {numbers}"


# --- exports: data, settings and credentials come from where the deployment keeps them --------------

APP_VARIABLES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "DEMO_USERNAME",
    "DEMO_PASSWORD",
    "X_TOKEN",
    "NOTIFICATION_LOG",
    "APP_NAME",
    "ADMIN_EMAIL",
    "ITEMS_PER_USER",
    "DEBUG",
)


def _export(name: str, out: Path) -> Path:
    from kernel_ext._export import export_notebook

    export_notebook(NOTEBOOKS / name, out)
    return out


def _run_app(app_dir: Path, script: str, **env: str) -> None:
    """Run `script` against the exported app (a TestClient `client`), in a fresh interpreter in app_dir."""
    code = "from fastapi.testclient import TestClient\nfrom app.main import app\nclient = TestClient(app)\n"
    clean = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-c", code + textwrap.dedent(script)],
        cwd=app_dir,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_exported_database_app_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    app_dir = _export("18_database.ipynb", tmp_path / "export")
    create = """
        r = client.post("/users/", json={"email": "a@example.com", "password": "pw"})
        assert r.status_code == 201, r.text
    """
    _run_app(app_dir, create)
    _run_app(app_dir, 'assert [u["email"] for u in client.get("/users/").json()] == ["a@example.com"]')
    assert (app_dir / "kernel_ext_demo.db").is_file()


def test_exported_background_task_writes_where_its_setting_says(tmp_path: Path) -> None:
    app_dir = _export("20_background_tasks.ipynb", tmp_path / "export")
    send = 'assert client.post("/send-notification/a@example.com").status_code == 200'
    _run_app(app_dir, send)
    assert (app_dir / "notifications.log").read_text() == "[v2] to a@example.com: some notification\n"
    _run_app(app_dir, send, NOTIFICATION_LOG=str(tmp_path / "elsewhere.log"))
    assert (tmp_path / "elsewhere.log").read_text() == "[v2] to a@example.com: some notification\n"


def test_exported_settings_read_the_env_file_next_to_the_app(tmp_path: Path) -> None:
    app_dir = _export("23_settings.ipynb", tmp_path / "export")
    (app_dir / ".env").write_text(
        f"ADMIN_EMAIL=ops@example.com\nITEMS_PER_USER=7\nDATABASE_URL=sqlite:///./x.db\nSECRET_KEY={'k' * 40}\n"
    )
    check = """
        r = client.get("/info")
        assert r.status_code == 200, r.text
        assert r.json() == {"app_name": "Awesome API", "admin_email": "ops@example.com", "items_per_user": 7}
        r = client.get("/config")
        assert r.status_code == 200, r.text
        assert r.json() == {"debug": False, "database": "sqlite"}
    """
    _run_app(app_dir, check)
    _run_app(app_dir, check.replace("7}", "8}"), ITEMS_PER_USER="8")  # the environment wins


CREDENTIALS = {
    # notebook: (a request with the well-known demo credential, with the environment's, the status it had)
    "16_security_basic.ipynb": (
        'client.get("/users/me", auth=("stanleyjobson", "swordfish"))',
        'client.get("/users/me", auth=("stanleyjobson", "from-the-environment"))',
        401,
    ),
    "17_security_oauth2.ipynb": (
        'client.post("/token", data={"username": "johndoe", "password": "secret"})',
        'client.post("/token", data={"username": "johndoe", "password": "from-the-environment"})',
        400,
    ),
    "25_routers_subapps.ipynb": (
        'client.get("/items/", headers={"X-Token": "fake-super-secret-token"})',
        'client.get("/items/", headers={"X-Token": "from-the-environment"})',
        400,
    ),
}


@pytest.mark.parametrize("name", sorted(CREDENTIALS))
def test_exported_app_accepts_the_environments_credential_and_no_known_one(name: str, tmp_path: Path) -> None:
    known, configured, refused = CREDENTIALS[name]
    app_dir = _export(name, tmp_path / "export")
    check = f"""
        r = {known}
        assert r.status_code == {refused}, r.text
        r = {configured}
        assert r.status_code == 200, r.text
    """
    secret = "from-the-environment"
    _run_app(app_dir, check, DEMO_PASSWORD=secret, X_TOKEN=secret, SECRET_KEY="s" * 40)


# --- demo data is reset at the start, not kept in a temporary directory --------------------------


def test_database_notebook_uses_the_file_in_its_directory_and_resets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    leftover = create_engine(f"sqlite:///{tmp_path / 'kernel_ext_demo.db'}")
    with leftover.begin() as conn:  # what a run that failed halfway leaves behind
        conn.execute(
            text(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) UNIQUE,"
                " hashed_password VARCHAR(255), is_active BOOLEAN)"
            )
        )
        conn.execute(
            text("INSERT INTO users (email, hashed_password, is_active) VALUES ('alice@example.com', 'x', 1)")
        )
    _execute("18_database.ipynb", tmp_path)  # its assertions expect an empty table
    assert not inspect(leftover).has_table("users")  # the notebook's last cell dropped it: the same file
    leftover.dispose()
