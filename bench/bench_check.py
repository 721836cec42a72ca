"""`%api check` on the quickstart: the notebook's cells run again in a fresh process, compared.

In a real kernel, notebooks/00_quickstart.ipynb runs (in a copy of notebooks/), all but its last
cell (`%api check --strict`); then `kernel_ext.check()` is timed, from the call to its result.
Diagnostic: the same for a notebook of two cells (load, `app = FastAPI()`), the fixed cost of a
fresh process (interpreter, IPython, fastapi imports). Writes its section of bench/RESULTS.md
with --write (make bench keeps it).
Usage: .venv/bin/python -m bench.bench_check [--rounds N] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench._common import ROOT, Kernel, Row, check, cli, kernel, log, median, spread

SECTION = "## `%api check` and fuzz-reload"
FUZZ = "### fuzz-reload"
NOTEBOOK = ROOT / "notebooks" / "00_quickstart.ipynb"
TIMED = (
    "import time as _t\n"
    "_s = _t.perf_counter(); _r = kernel_ext.check(); print(_t.perf_counter() - _s, bool(_r))"
)


def code_cells(path: Path) -> list[str]:
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    return ["".join(c["source"]) for c in cells]


def timed_checks(k: Kernel, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        reply = k.run(TIMED, timeout=300)
        if reply.status != "ok":
            raise RuntimeError(reply.traceback)
        seconds, matched = reply.stdout.split()
        if matched != "True":
            raise RuntimeError(f"the check found differences: {reply.text}")
        times.append(float(seconds) * 1000)
    return times


def quickstart(rounds: int) -> tuple[list[float], int]:
    cells = [c for c in code_cells(NOTEBOOK) if "%api check" not in c]
    with tempfile.TemporaryDirectory() as tmp, kernel() as k:
        work = Path(tmp) / "notebooks"
        shutil.copytree(NOTEBOOK.parent, work)
        check(k, f"import os; os.chdir({str(work)!r})")
        for cell in cells:
            check(k, cell)
        return timed_checks(k, rounds), len(cells)


def minimal(rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, kernel() as k:
        check(k, f"import os; os.chdir({tmp!r})\n%load_ext kernel_ext")
        check(k, "import kernel_ext\nfrom fastapi import FastAPI\napp = FastAPI()")
        return timed_checks(k, rounds)


def run(args: argparse.Namespace) -> list[Row]:
    times, count = quickstart(args.rounds)
    log(f"quickstart: {[round(t) for t in times]} ms")
    fixed = minimal(args.rounds)
    log(f"two cells: {[round(t) for t in fixed]} ms")
    rows = [
        Row(
            "check",
            f"%api check, quickstart ({count} cells): call -> result",
            median(times),
            "ms",
            note=spread(times, " ms"),
        ),
        Row(
            "check",
            "%api check, two cells (load, app = FastAPI()): the fixed cost",
            median(fixed),
            "ms",
            note=f"diagnostic: a new process, IPython and fastapi imported; {spread(fixed, ' ms')}",
        ),
    ]
    if args.write:
        write_section(rows, ROOT / "bench" / "RESULTS.md")
    return rows


def write_section(rows: list[Row], path: Path) -> None:
    """Replace this script's section of RESULTS.md; the fuzz-reload figures under it stay."""
    current = path.read_text() if path.exists() else ""
    head, _, old = current.partition(SECTION)
    fuzz = old[old.index(FUZZ) :] if FUZZ in old else f"{FUZZ}\n\n(not run yet: `make fuzz-reload`)\n"
    rest = ""
    if "\n## " in fuzz:  # another script's section after ours
        fuzz, _, after = fuzz.partition("\n## ")
        rest = "\n## " + after
    lines = [
        SECTION,
        "",
        f"Written by bench/bench_check.py --write ({time.strftime('%Y-%m-%d %H:%M')}, load average "
        f"{os.getloadavg()[0]:.1f}), not by `make bench`, which keeps this section. The cells run again "
        "in a new process, same interpreter, in a copy of the working directory; the time is the whole "
        "call, the comparison included.",
        "",
        *(f"- {row.name}: **{row.value:.0f} {row.unit}** (median; {row.note})" for row in rows),
        "",
        fuzz.rstrip("\n"),
        "",
    ]
    path.write_text(head.rstrip("\n") + "\n\n" + "\n".join(lines) + rest)


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write", action="store_true", help="update this script's section of RESULTS.md")


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=5, options=options)
