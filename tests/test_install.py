"""Installed as a user would, outside this repository's .venv.

- `pip install .` with no extras, into a clean virtual environment: `%load_ext kernel_ext` serves
  a route (so the runtime dependencies are enough).
- The wheel from `python -m build`, installed into a clean virtual environment that a JupyterLab
  already there uses as a kernel: the quickstart runs through nbclient. The wheel holds the package
  only, and declares its Python versions.

Where uv is found (on PATH, or in .venv, where `make` puts it), installs and the build's isolated
environment go through uv's pip interface: it reads the same metadata and requirements as pip,
and takes seconds where pip takes one to three minutes per environment on the 2-core machine.
Without uv, pip does it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 600  # pip resolving and installing about 40 packages, on a loaded 2-core box
NOT_SOURCES = {".venv", ".git", "build", "dist", "__pycache__", ".ruff_cache", "node_modules"}


def _source_copy(tmp: Path) -> Path:
    """The checkout's files, so building writes no build/ or egg-info into the real one."""
    target = tmp / "src"
    shutil.copytree(
        REPO,
        target,
        ignore=lambda _, names: [n for n in names if n in NOT_SOURCES or n.endswith(".egg-info")],
    )
    return target


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _uv() -> Path | None:
    found = shutil.which("uv")
    if found:
        return Path(found)
    beside = Path(sys.executable).with_name("uv")
    return beside if beside.is_file() else None


UV = _uv()


def clean_venv(path: Path, *requirements: str | Path) -> Path:
    """A new virtual environment (stdlib venv, as a user makes one), given `requirements`."""
    venv.create(path, with_pip=UV is None)
    python = path / "bin" / "python"
    if UV is not None:
        try:  # the package cache is warm wherever `make` installed .venv: no index round trips
            _run(UV, "pip", "install", "-q", "--offline", "--python", python, *requirements)
        except AssertionError:  # something is not in the cache
            _run(UV, "pip", "install", "-q", "--python", python, *requirements)
    else:
        _run(python, "-m", "pip", "install", "-q", "--no-compile", *requirements)
    return python


def kernel_spec(python: Path, prefix: Path, name: str) -> Path:
    """Register the venv's ipykernel under `prefix`; the directory to put on JUPYTER_PATH."""
    _run(python, "-m", "ipykernel", "install", "--prefix", prefix, "--name", name)
    return prefix / "share" / "jupyter"


def execute(notebook: nbformat.NotebookNode, kernel: str, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook, timeout=180, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return notebook


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"
    )


WHERE_FROM = (
    "import importlib.util, json, sys, kernel_ext\n"
    "print(json.dumps({'prefix': sys.prefix, 'kernel_ext': kernel_ext.__file__,\n"
    "    'absent': [m for m in ('jupyterlab', 'nbmake', 'xdist', 'pytest', 'nbclient', 'notebook')\n"
    "               if importlib.util.find_spec(m) is None]}))"
)


def assert_ran_from(cell: nbformat.NotebookNode, env: Path) -> None:
    seen = json.loads(stdout_of(cell))
    assert Path(seen["prefix"]).resolve() == env.resolve()
    assert Path(seen["kernel_ext"]).resolve().is_relative_to(env.resolve())  # not the checkout
    assert seen["absent"] == ["jupyterlab", "nbmake", "xdist", "pytest", "nbclient", "notebook"]


def test_pip_install_dot_without_extras_serves_a_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source_copy(tmp_path)
    env = tmp_path / "env"
    python = clean_venv(env, source)  # `pip install .`: the runtime dependencies bring ipykernel
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_spec(python, tmp_path / "jupyter", "kernel-ext-plain")))
    monkeypatch.setenv("KERNEL_EXT_PORT", "0")
    work = tmp_path / "work"
    work.mkdir()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext kernel_ext"),
            nbformat.v4.new_code_cell(
                "from typing import Annotated\n"
                "from fastapi import FastAPI, Query\n"
                "app = FastAPI()\n"
                "@app.get('/hello/{name}')\n"
                "def hello(name: str, times: Annotated[int, Query(ge=1)] = 1) -> dict:\n"
                "    return {'hello': name}"
            ),
            nbformat.v4.new_code_cell(
                "import httpx, kernel_ext\n"
                "r = httpx.get(kernel_ext.base_url() + '/hello/wheel', timeout=10)\n"
                "print(r.status_code, r.json())"
            ),
            nbformat.v4.new_code_cell(WHERE_FROM),
            nbformat.v4.new_code_cell(  # the explorer, with its input check (jsonschema)
                "ex = kernel_ext.explore()\n"
                "ex.select('GET', '/hello/{name}')\n"
                "ex.set(name='explorer', times=0)\n"
                "print(ex.send().status_code, 'must be ≥ 1' in ex.form.find('times').hint.value)"
            ),
        ]
    )
    executed = execute(notebook, "kernel-ext-plain", work)
    assert stdout_of(executed.cells[2]).strip() == "200 {'hello': 'wheel'}"
    assert_ran_from(executed.cells[3], env)
    assert stdout_of(executed.cells[4]).strip() == "422 True"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` (an sdist, then the wheel built from it), on a copy of the checkout."""
    tmp = tmp_path_factory.mktemp("build")
    dist = tmp / "dist"
    source = _source_copy(tmp)
    if UV is None:
        _run(sys.executable, "-m", "build", "--outdir", dist, source)
    else:  # build finds uv on PATH
        env = {**os.environ, "PATH": os.pathsep.join([str(UV.parent), os.environ.get("PATH", "")])}
        _run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", dist, source, env=env)
    return {"wheel": next(dist.glob("*.whl")), "sdist": next(dist.glob("*.tar.gz"))}


def test_the_wheel_holds_the_package_only(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"kernel_ext"}
    assert not [
        n for n in names if n.endswith(".ipynb") or "/tests/" in n or n.startswith(("bench/", "tests/"))
    ]
    assert "kernel_ext/_explorer/__init__.py" in names and "kernel_ext/_export/__init__.py" in names
    assert "Requires-Python: >=3.11" in metadata
    assert "Classifier: Programming Language :: Python :: 3.11" in metadata
    unconditional = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert not [
        r for r in unconditional if r.lower().startswith(("jupyterlab", "nbmake", "pytest", "notebook"))
    ]


def test_the_wheel_beside_an_existing_jupyterlab_runs_the_quickstart(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JupyterLab already there is this test's own environment (jupyter_client, nbclient);
    the kernel it runs is a clean venv that got the wheel, as `pip install kernel_ext` would."""
    env = tmp_path / "env"
    python = clean_venv(env, built["wheel"])
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_spec(python, tmp_path / "jupyter", "kernel-ext-wheel")))
    monkeypatch.setenv("KERNEL_EXT_PORT", "0")
    quickstart = nbformat.read(REPO / "notebooks" / "00_quickstart.ipynb", as_version=4)
    quickstart.cells.append(nbformat.v4.new_code_cell(WHERE_FROM))
    work = tmp_path / "work"
    work.mkdir()
    executed = execute(quickstart, "kernel-ext-wheel", work)  # raises on a failing cell
    assert_ran_from(executed.cells[-1], env)
