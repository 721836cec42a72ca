"""FastAPI's own tutorial code (`docs_src/` in the fastapi sdist) as notebooks.

The sdist is fetched once with `pip download --no-binary :all: --no-deps fastapi==<installed>`
into a cache directory (never into the repository). Each tutorial that builds `app` becomes a
notebook of top-level-statement cells; its relative imports (`from .routers import users`) are
made absolute, and the whole `docs_src` tree is written beside the kernel so they resolve.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

_APP = re.compile(r"^app = FastAPI\(", re.MULTILINE)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernel_ext" / f"fastapi-{importlib.metadata.version('fastapi')}"


def fetch_docs_src() -> Path:
    """The cached `docs_src` directory; raises RuntimeError with pip's reason when it can't."""
    target = cache_dir() / "docs_src"
    if target.is_dir():
        return target
    version = importlib.metadata.version("fastapi")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as temp:
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        command += ["--retries", "1", "--timeout", "15"]  # no index reachable: skip soon
        done = subprocess.run(
            [*command, f"fastapi=={version}", "-d", temp, "-q"], capture_output=True, text=True, timeout=180
        )
        tarballs = list(Path(temp).glob("fastapi-*.tar.gz"))
        if done.returncode != 0 or not tarballs:
            reason = (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise RuntimeError(f"pip download of the fastapi {version} sdist failed: {reason}")
        prefix = f"fastapi-{version}/docs_src/"
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(temp, members=members, filter="data")
        try:
            os.replace(Path(temp) / prefix, target)  # atomic: parallel workers may race here
        except OSError:
            if not target.is_dir():
                raise
    return target


@dataclass(frozen=True)
class Tutorial:
    name: str  # "bigger_applications/app/main.py"
    cells: tuple[str, ...]


def tutorials(docs_src: Path) -> tuple[list[Tutorial], dict[str, str]]:
    """Every tutorial that binds `app = FastAPI(...)`, and the ones left out with why."""
    found, left_out = [], {}
    for path in sorted(docs_src.rglob("*.py")):
        name = str(path.relative_to(docs_src))
        if path.name.startswith("test_"):
            continue
        source = path.read_text(encoding="utf-8")
        if not _APP.search(source):
            continue
        missing = _missing_imports(source)
        if missing:
            left_out[name] = f"needs {missing}, not installed"
            continue
        found.append(Tutorial(name, tuple(split_cells(source, _package(path, docs_src)))))
    return found, left_out


def _package(path: Path, docs_src: Path) -> str:
    return ".".join(("docs_src", *path.parent.relative_to(docs_src).parts))


def split_cells(source: str, package: str) -> list[str]:
    """One cell per top-level statement (decorators included); relative imports made absolute;
    `if __name__ == "__main__":` blocks left out (in a notebook they would start uvicorn)."""
    lines = source.splitlines()
    cells = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name for a in node.names)
            cells.append(f"from {module} import {names}")
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        assert node.end_lineno is not None
        cells.append("\n".join(lines[start - 1 : node.end_lineno]))
    return cells


def _missing_imports(source: str) -> str | None:
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top != "docs_src" and importlib.util.find_spec(top) is None:
                return top
    return None


def write_beside(docs_src: Path, workdir: Path) -> None:
    shutil.copytree(docs_src, workdir / "docs_src", dirs_exist_ok=True)


# --- edit sequences --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # "rerun", "edit", "delete"
    cell: int
    source: str = ""

    def __str__(self) -> str:
        return f"{self.kind} cell {self.cell}" + (f": {self.source!r}" if self.kind == "edit" else "")


def steps(tutorial: Tutorial, rng: random.Random, count: int) -> list[Step]:
    """Re-runs, route path edits and deletions of route cells nothing else names.

    The `app = FastAPI()` cell is not re-run: a new app holds none of the routes other cells
    put on the old one, which a fresh run of the notebook would have (check reports it).
    """
    cells = list(tutorial.cells)
    live = set(range(len(cells)))
    chosen = []
    for _ in range(count):
        options = []
        for i in sorted(live):
            cell = cells[i]
            if not _APP.search(cell):
                options.append(Step("rerun", i))
            if _route_path(cell) is not None:
                options.append(Step("edit", i, _edited(cell)))
                if not _named_elsewhere(cells, i, live):
                    options.append(Step("delete", i))
        if not options:
            break
        step = rng.choice(options)
        if step.kind == "edit":
            cells[step.cell] = step.source
        if step.kind == "delete":
            live.discard(step.cell)
        chosen.append(step)
    return chosen


_DECORATOR_PATH = re.compile(r'^(@\w+\.(get|post|put|patch|delete)\(\s*")([^"]*)(")', re.MULTILINE)


def _route_path(cell: str) -> str | None:
    match = _DECORATOR_PATH.search(cell)
    return match.group(3) if match else None


def _edited(cell: str) -> str:
    return _DECORATOR_PATH.sub(
        lambda m: m.group(1) + m.group(3).rstrip("/") + "/edited" + m.group(4), cell, 1
    )


def _named_elsewhere(cells: list[str], index: int, live: set[int]) -> bool:
    match = re.search(r"^(?:async )?def (\w+)", cells[index], re.MULTILINE)
    if match is None:
        return True
    word = re.compile(rf"\b{match.group(1)}\b")
    return any(word.search(cells[i]) for i in live if i != index)
