"""export_notebook / export_cells / the CLI / %api export: the files, the refusals, the imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_ext._export import ExportError, export_cells, export_notebook
from tests.support.notebooks import write_notebook

APP = """\
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="Demo")


class Item(BaseModel):
    name: str
    price: float = 0


@app.post("/items")
def create(item: Item) -> Item:
    return item
"""
PROBE = """\
import httpx
import kernel_ext

r = httpx.post(kernel_ext.base_url() + "/items", json={"name": "pen"})
assert r.status_code == 200
r.json()
"""
NOTEBOOK = ["%load_ext kernel_ext", APP, PROBE, ("%%http\nGET /items\n", [])]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "kernel_ext", *args], cwd)


def test_export_writes_a_package_that_imports_without_ipython(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "demo.ipynb", NOTEBOOK)
    result = export_notebook(notebook, tmp_path / "out")
    assert result.files == (
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "app/__init__.py",
        "app/main.py",
        "app/models/__init__.py",
        "app/models/item.py",
        "gunicorn.conf.py",
        "requirements.txt",
    )
    assert [c.exported for c in result.cells] == [False, True, False, False]
    check = (
        "import sys, app.main\n"
        "assert 'IPython' not in sys.modules and 'kernel_ext' not in sys.modules\n"
        "print(type(app.main.app).__name__, [r.path for r in app.main.app.routes][-1])"
    )
    imported = run([sys.executable, "-c", check], tmp_path / "out")
    assert imported.stdout.strip() == "FastAPI /items", imported.stderr


def test_requirements_are_pinned_and_include_the_server(tmp_path: Path) -> None:
    result = export_cells([APP], tmp_path)
    from importlib.metadata import version

    assert result.requirements == (
        f"fastapi=={version('fastapi')}",
        f"gunicorn=={version('gunicorn')}",
        f"pydantic=={version('pydantic')}",
        f"uvicorn[standard]=={version('uvicorn')}",
        f"uvicorn-worker=={version('uvicorn-worker')}",
    )
    assert (tmp_path / "requirements.txt").read_text().splitlines() == list(result.requirements)


def test_optional_packages_the_app_needs_are_required(tmp_path: Path) -> None:
    cells = [
        "from fastapi import FastAPI, Form, UploadFile\napp = FastAPI()\n\n"
        "@app.post('/f')\ndef f(name: str = Form(), file: UploadFile | None = None):\n"
        "    return name"
    ]
    result = export_cells(cells, tmp_path)
    assert any(line.startswith("python-multipart==") for line in result.requirements)


def test_dockerfile_runs_gunicorn_as_a_non_root_user(tmp_path: Path) -> None:
    export_cells([APP], tmp_path)
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert dockerfile.startswith("FROM python:3.12-slim\n")
    assert "\nUSER app\n" in dockerfile and "useradd" in dockerfile
    assert (
        'CMD ["gunicorn", "app.main:app", "-k", "uvicorn_worker.UvicornWorker", "-w", "2", \\\n'
        '     "--bind", "0.0.0.0:8000"]'
    ) in dockerfile
    assert ".env" in (tmp_path / ".dockerignore").read_text().splitlines()
    readme = (tmp_path / "README.md").read_text()
    assert "gunicorn app.main:app -k uvicorn_worker.UvicornWorker -w 2" in readme
    assert "docker build" in readme


def test_settings_stay_environment_driven_and_env_files_are_never_copied(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / ".env").write_text("SECRET_KEY=do-not-copy\n")
    cells = [
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\n"
        "API_TOKEN = 'tok-123'\nREGION = os.getenv('REGION', 'eu')",
        "@app.get('/r')\ndef r():\n    return {'region': REGION, 'ok': bool(API_TOKEN)}",
    ]
    notebook = write_notebook(tmp_path / "nb" / "nb.ipynb", cells)
    result = export_notebook(notebook, tmp_path / "out")
    assert [(s.env, s.cell) for s in result.secrets] == [("API_TOKEN", "cell 2 (`import os`)")]
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "tok-123" not in written and "do-not-copy" not in written
    assert not (tmp_path / "out" / ".env").exists()
    assert (tmp_path / "out" / ".env.example").read_text().splitlines()[1:] == ["API_TOKEN=", "REGION="]
    assert "API_TOKEN = require_env('API_TOKEN')" in (tmp_path / "out/app/main.py").read_text()


def test_a_non_empty_directory_needs_force(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"is not empty; pass --force \(force=True\)"):
        export_cells([APP], tmp_path)
    assert not (tmp_path / "app").exists()
    export_cells([APP], tmp_path, force=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert (tmp_path / "app" / "main.py").exists()


def test_force_removes_what_the_previous_export_wrote_and_nothing_else(tmp_path: Path) -> None:
    with_secret = APP + "\nAPI_TOKEN = 'tok-123'\n\n@app.get('/t')\ndef t():\n    return bool(API_TOKEN)"
    export_cells([with_secret], tmp_path)
    assert (tmp_path / ".env.example").exists() and (tmp_path / "app" / "_env.py").exists()
    (tmp_path / "app" / "mine.py").write_text("# written by hand")
    (tmp_path / "notes.md").write_text("mine")
    result = export_cells(
        [APP.replace("class Item", "class Thing").replace("Item", "Thing")], tmp_path, force=True
    )
    assert not (tmp_path / ".env.example").exists()  # stale: the new export reads no environment
    assert not (tmp_path / "app" / "_env.py").exists()
    assert not (tmp_path / "app" / "models" / "item.py").exists()
    assert (tmp_path / "app" / "models" / "thing.py").exists()
    assert (tmp_path / "app" / "mine.py").read_text() == "# written by hand"
    assert (tmp_path / "notes.md").read_text() == "mine"
    manifest = json.loads((tmp_path / ".kernel_ext-export.json").read_text())
    assert manifest["files"] == sorted(result.files)


def test_a_manifest_never_reaches_outside_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    out = tmp_path / "out"
    export_cells([APP], out)
    manifest = {"files": ["../outside.txt", str(outside), "app/main.py"]}
    (out / ".kernel_ext-export.json").write_text(json.dumps(manifest))
    export_cells([APP], out, force=True)
    assert outside.read_text() == "keep"
    assert (out / "app" / "main.py").exists()


def test_cli_exports_and_prints_what_it_wrote(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "demo.ipynb", NOTEBOOK)
    done = cli("export", str(notebook), "--out", "out", "-v", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Exported 1 of 4 code cells to out/"
    assert "  app/main.py" in lines
    assert "  skipped cell 2 (`%load_ext kernel_ext`): a probe: the %load_ext magic" in lines
    assert "  skipped cell 5 (`%%http`): a %%http cell magic" in lines
    assert (tmp_path / "out" / "app" / "main.py").exists()


@pytest.mark.parametrize(
    ("cells", "args", "message"),
    [
        (NOTEBOOK, ["--out", "."], "error: . is not empty; pass --force (force=True) to overwrite it."),
        (["x = 1"], ["--out", "o"], "error: no cell defines `app`: there is no app to export."),
        (
            [APP, "def broken(:"],
            ["--out", "o"],
            "error: cell 3 (`def broken(:`) has a syntax error at line 1 (`def broken(:`): "
            "invalid syntax. Fix it, or mark the cell `# kernel_ext: skip`.",
        ),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, cells: list[str], args: list[str], message: str
) -> None:
    notebook = write_notebook(tmp_path / "demo.ipynb", cells)
    done = cli("export", str(notebook), *args, cwd=tmp_path)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (2, message, "")


def test_cli_usage_errors(tmp_path: Path) -> None:
    done = cli("export", "missing.ipynb", "--out", "o", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (2, "error: missing.ipynb: no such notebook")
    done = cli("export", "x.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "the following arguments are required: --out" in done.stderr
    assert "Traceback" not in done.stderr


def test_api_export_in_a_kernel_uses_what_ran(shell, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shell.ok(APP)
    failed = shell.run("@app.get('/half')\ndef half():\n    return 1\n\nraise ValueError('oops')")
    assert not failed.success
    shell.ok(APP.replace('title="Demo"', 'title="Demo v2"'))
    shell.ok(
        "import httpx, kernel_ext\n"
        "r = httpx.post(kernel_ext.base_url() + '/items', json={'name': 'a'})\n"
        "assert r.status_code == 200"
    )
    shell.ok(f"%api export {tmp_path / 'out'}")
    main = (tmp_path / "out" / "app" / "main.py").read_text()
    assert 'title="Demo v2"' in main
    assert "/half" not in main and "httpx" not in main  # a cell that raised is not exported


def test_two_secrets_for_one_environment_variable_are_refused(tmp_path: Path) -> None:
    cells = [
        APP + "\nPASSWORD = 'a'",
        "@app.get('/p')\ndef p(password: str = ''):\n    return password == 'b' or PASSWORD",
    ]
    with pytest.raises(
        ExportError,
        match=r"cell 2 .* and cell 1 .* hold different secrets that "
        r"would both be read from PASSWORD",
    ):
        export_cells(cells, tmp_path)


def test_imports_inside_functions_are_required(tmp_path: Path) -> None:
    cells = [
        "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/a')\ndef a():\n"
        "    import jwt\n    from yaml import safe_load\n    return safe_load('x: 1')"
    ]
    result = export_cells(cells, tmp_path)
    from importlib.metadata import version

    assert f"PyJWT=={version('PyJWT')}" in result.requirements
    assert f"PyYAML=={version('PyYAML')}" in result.requirements


STATIC = (
    "from fastapi import FastAPI\nfrom fastapi.staticfiles import StaticFiles\n"
    "from fastapi.templating import Jinja2Templates\napp = FastAPI()\n"
    "app.mount('/static', StaticFiles(directory='static'), name='static')\n"
    "templates = Jinja2Templates(directory='templates')\n\n"
    "@app.get('/page')\ndef page():\n    return templates.env.list_templates()"
)


def test_static_and_template_directories_are_copied(tmp_path: Path) -> None:
    (tmp_path / "nb" / "static" / "css").mkdir(parents=True)
    (tmp_path / "nb" / "static" / "css" / "site.css").write_text("body {}")
    (tmp_path / "nb" / "templates").mkdir()
    (tmp_path / "nb" / "templates" / "page.html").write_text("<p>{{ x }}</p>")
    (tmp_path / "nb" / "static" / ".env").write_text("SECRET=x")
    notebook = write_notebook(tmp_path / "nb" / "site.ipynb", [STATIC])
    result = export_notebook(notebook, tmp_path / "out")
    out = tmp_path / "out"
    assert result.directories == ("static", "templates")
    assert (out / "static" / "css" / "site.css").read_text() == "body {}"
    assert (out / "templates" / "page.html").exists() and not (out / "static" / ".env").exists()
    dockerfile = (out / "Dockerfile").read_text()
    assert "COPY --chown=app static ./static\nCOPY --chown=app templates ./templates\n" in dockerfile
    check = "import app.main\nprint(app.main.page())"
    imported = run([sys.executable, "-c", check], out)
    assert imported.stdout.strip() == "['page.html']", imported.stderr
    # Copied files are the export's own: a later --force export without them removes them,
    # and leaves a file someone added.
    (out / "static" / "mine.css").write_text("mine")
    export_cells([APP], out, force=True)
    assert not (out / "static" / "css").exists() and not (out / "templates").exists()
    assert (out / "static" / "mine.css").read_text() == "mine"


def test_a_missing_static_directory_fails_naming_the_cell(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "site.ipynb", [STATIC])
    with pytest.raises(ExportError) as caught:
        export_notebook(notebook, tmp_path / "out")
    assert str(caught.value).startswith(
        "cell 2 (`from fastapi import FastAPI`): StaticFiles serves files from the directory 'static', "
        "which does not exist next to the notebook"
    )
    assert not (tmp_path / "out").exists()


SECRET_IN_A_ROUTE = (
    "from fastapi import FastAPI, Header, HTTPException\napp = FastAPI()\n\n"
    "@app.get('/items')\ndef items(x_token: str = Header()):\n"
    "    if x_token != 'fake-super-secret-token':\n        raise HTTPException(400)\n    return []"
)


def test_a_missing_secret_stops_the_app_at_import(tmp_path: Path) -> None:
    export_cells([SECRET_IN_A_ROUTE], tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "X_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-c", "import app.main"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "RuntimeError: the environment variable X_TOKEN is not set; the app needs it to start "
        "(.env.example lists every variable it reads)"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=tmp_path,
        env={**env, "X_TOKEN": "fake-super-secret-token"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".env.example").read_text().splitlines()[1:] == ["X_TOKEN="]


def test_a_generated_secret_key_is_required_and_the_readme_says_why(tmp_path: Path) -> None:
    cells = [
        "import os, secrets\nfrom fastapi import FastAPI\napp = FastAPI()\n"
        "SECRET_KEY = os.environ.get('SECRET_KEY') or secrets.token_hex(32)\n\n"
        "@app.get('/k')\ndef k():\n    return len(SECRET_KEY)"
    ]
    result = export_cells(cells, tmp_path)
    assert "SECRET_KEY = require_env('SECRET_KEY')" in (tmp_path / "app" / "main.py").read_text()
    readme = " ".join((tmp_path / "README.md").read_text().split())
    assert "`SECRET_KEY` had a default generated per process in the notebook" in readme
    assert "a token signed, or a password accepted, by one process would be refused by another" in readme
    assert "SECRET_KEY: had a per-process generated default" in result.summary()


STATEFUL = (
    "from fastapi import FastAPI\napp = FastAPI()\nitems: dict[int, str] = {}\n\n"
    "@app.post('/items/{i}')\ndef put(i: int, name: str):\n    items[i] = name\n\n"
    "@app.get('/items')\ndef all_items():\n    return items"
)


def test_state_in_process_memory_means_one_worker_and_says_so(tmp_path: Path) -> None:
    result = export_cells([STATEFUL], tmp_path)
    assert (result.workers, result.state) == (1, ("`items`, a dict",))
    assert '"-w", "1"' in (tmp_path / "Dockerfile").read_text()
    assert 'os.environ.get("WEB_CONCURRENCY", "1")' in (tmp_path / "gunicorn.conf.py").read_text()
    readme = " ".join((tmp_path / "README.md").read_text().split())
    assert "gunicorn app.main:app -k uvicorn_worker.UvicornWorker -w 1" in readme
    assert "The app keeps state in the memory of its process: `items`, a dict. Each gunicorn worker" in readme
    summary = result.summary()
    assert "note: The app keeps state in the memory of its process" in summary
    assert summary.endswith("-w 1 --bind 0.0.0.0:8000")


def test_a_stateless_app_keeps_two_workers(tmp_path: Path) -> None:
    result = export_cells([APP], tmp_path)
    assert (result.workers, result.state) == (2, ())
    assert '"-w", "2"' in (tmp_path / "Dockerfile").read_text()
    assert "each request may go to either worker" in " ".join((tmp_path / "README.md").read_text().split())


def test_a_generated_default_through_a_helper_is_required_and_the_helper_dropped(tmp_path: Path) -> None:
    cells = [
        "import secrets\nfrom fastapi import FastAPI\nfrom pydantic import Field, SecretStr\n"
        "from pydantic_settings import BaseSettings\napp = FastAPI()\n\n"
        "def generated_secret() -> SecretStr:\n    return SecretStr(secrets.token_urlsafe(32))\n\n"
        "class AuthSettings(BaseSettings):\n    secret_key: SecretStr = Field(default_factory=generated_secret)\n\n"
        "settings = AuthSettings()\n\n"
        "@app.get('/k')\ndef k(key: str):\n"
        "    return secrets.compare_digest(key, settings.secret_key.get_secret_value())\n\n"
        "def new_id():\n    return secrets.token_hex(8)\n\n"
        "@app.post('/ids')\ndef ids():\n    return new_id()"
    ]
    result = export_cells(cells, tmp_path)
    assert [(s.env, s.generated) for s in result.secrets] == [("SECRET_KEY", True)]
    main = (tmp_path / "app" / "main.py").read_text()
    assert "def k(key: str):" in main and "def new_id():" in main  # still used: kept
    config = (tmp_path / "app" / "config.py").read_text()
    assert "    secret_key: SecretStr\n" in config
    assert "generated_secret" not in config and "import secrets" not in config
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", "import app.main"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "secret_key" in done.stderr  # pydantic: a required field


def test_lazily_created_settings_are_read_at_startup(tmp_path: Path) -> None:
    """`@lru_cache def get_settings()` would only fail on the first request; the export calls it."""
    cells = [
        "from functools import lru_cache\nfrom fastapi import Depends, FastAPI\n"
        "from pydantic_settings import BaseSettings\napp = FastAPI()\n\n"
        "class Settings(BaseSettings):\n    admin_email: str\n    app_name: str = 'demo'\n\n"
        "@lru_cache\ndef get_settings():\n    return Settings()\n\n"
        "@app.get('/info')\ndef info(settings: Settings = Depends(get_settings)):\n"
        "    return settings.admin_email"
    ]
    export_cells(cells, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "ADMIN_EMAIL"}

    def import_app(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "import app.main"]
        return subprocess.run(command, cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True)

    failed = import_app({})
    assert failed.returncode != 0 and "admin_email" in failed.stderr
    assert import_app({"ADMIN_EMAIL": "a@example.com"}).returncode == 0
