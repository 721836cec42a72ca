"""`make bench`: run every bench script, one at a time, and write bench/RESULTS.md.

Each script runs in its own process (fresh imports, its own kernels) and hands back its rows as
JSON; bench_explorer.py prints lines, which are parsed. Load average is recorded before and after:
this box is shared, and figures taken on a busy machine say so.
Usage: .venv/bin/python -m bench.run_all [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import Row

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_throughput",
    "bench_edit_to_live",
    "bench_start",
    "bench_hooks",
    "bench_explorer",
    "bench_contract_diff",
    "bench_modules",
    "bench_memory",
    "bench_soak",
)
# bench_test_time.py runs the whole test suite, so it runs on its own, under the full-test lock.
EXPLORER_LINE = re.compile(
    r"explorer (?P<where>.{11}) (?P<name>\S+)\s+median\s+(?P<value>[\d.]+) ms\s+\(budget (?P<budget>[\d.]+)\)"
)


def run_script(name: str, quick: bool) -> tuple[list[Row], str]:
    """The script's rows, and an error text if it failed."""
    command = [sys.executable, "-m", f"bench.{name}"]
    if name == "bench_explorer":
        command += ["--rounds", "3"] if quick else []
        result = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
        return _explorer_rows(result.stdout), _failure(result)
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "rows.json"
        command += ["--json", str(output)] + (["--quick"] if quick else [])
        result = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
        rows = [Row(**r) for r in json.loads(output.read_text())] if output.exists() else []
    return rows, _failure(result)


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode == 0:
        return ""
    return (
        (result.stderr or result.stdout).strip().splitlines()[-1] if result.stderr or result.stdout else "?"
    )


def _explorer_rows(stdout: str) -> list[Row]:
    rows = []
    for match in EXPLORER_LINE.finditer(stdout):
        value, budget = float(match["value"]), float(match["budget"])
        rows.append(
            Row(
                "explorer",
                f"{match['name']} ({match['where'].strip()})",
                value,
                "ms",
                target=f"<= {budget:g} ms",
                passed=value <= budget,
            )
        )
    return rows


def markdown(rows: list[Row], failures: dict[str, str], context: dict[str, str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run_all.py). Figures are medians over several runs; a ratio",
        "compares with plain `uvicorn` (uvloop, httptools) measured in the same run. "
        "Targets come from issues 2, 8 and 14.",
        "",
        *(f"- {key}: {value}" for key, value in context.items()),
        "",
        "| bench | measurement | figure | uvicorn | ratio | target | result | notes |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        baseline = f"{row.baseline:.4g} {row.unit}" if row.baseline is not None else ""
        ratio = f"{row.ratio:.3g}x" if row.ratio is not None else ""
        result = {True: "pass", False: "**MISSED**", None: ""}[row.passed]
        lines.append(
            f"| {row.bench} | {row.name} | {row.value:.4g} {row.unit} | {baseline} | {ratio} "
            f"| {row.target} | {result} | {row.note} |"
        )
    if failures:
        lines += ["", "## Scripts that failed", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures.items()]
    missed = [r for r in rows if r.passed is False]
    lines += [
        "",
        f"{len(rows) - len(missed)} of {len(rows)} rows pass or have no target; {len(missed)} missed.",
    ]
    return "\n".join(lines) + "\n"


def kept_sections(path: Path) -> str:
    """Sections other scripts write into RESULTS.md (bench_setup.py's, bench_check.py's), carried
    over as they are: everything from the first of them to the end."""
    from bench.bench_check import SECTION as CHECK_SECTION
    from bench.bench_setup import SECTION

    current = path.read_text() if path.exists() else ""
    starts = [current.index(s) for s in (SECTION, CHECK_SECTION) if s in current]
    return "\n" + current[min(starts) :] if starts else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 short rounds each (smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="e.g. bench_hooks bench_start")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    scripts = [s for s in SCRIPTS if not args.only or s in args.only]
    started = time.time()
    load_before = os.getloadavg()
    rows: list[Row] = []
    failures: dict[str, str] = {}
    for name in scripts:
        print(f"running {name} ...", flush=True)
        script_rows, error = run_script(name, args.quick)
        rows += script_rows
        if error:
            failures[name] = error
            print(f"  {name} failed: {error}", flush=True)
    context = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load average (1 min) before / after": f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}",
        "mode": "quick (2 short rounds)" if args.quick else "full",
        "took": f"{(time.time() - started) / 60:.1f} min",
    }
    text = markdown(rows, failures, context) + kept_sections(args.output)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
