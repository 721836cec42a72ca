"""export_notebook / export_cells / the CLI / %api export: the files, the refusals, the imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernel_ext._export import ExportError, export_cells, export_notebook
from tests.test_export_cells import write_notebook

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
    assert "API_TOKEN = os.environ['API_TOKEN']" in (tmp_path / "out/app/main.py").read_text()


def test_a_non_empty_directory_needs_force(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"is not empty; pass --force \(force=True\)"):
        export_cells([APP], tmp_path)
    assert not (tmp_path / "app").exists()
    (tmp_path / "app" / "routers").mkdir(parents=True)
    (tmp_path / "app" / "routers" / "stale.py").write_text("")
    export_cells([APP], tmp_path, force=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "app" / "routers" / "stale.py").exists()
    assert (tmp_path / "app" / "main.py").exists()


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
