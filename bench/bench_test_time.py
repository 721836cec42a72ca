"""`make test` from a fresh clone: creating .venv (package cache warm), ruff, unit tests, notebooks.

Clones this repository's committed HEAD into a temporary directory and times `make test` there,
as a newcomer or CI would run it. The whole suite runs, so on the shared machine run this under
the full-test lock (`flock /tmp/kernel_ext_fulltest.lock ...`); the load average is recorded.
Target: ≤ 5 minutes on 2 cores.
Usage: .venv/bin/python -m bench.bench_test_time [--log PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import ROOT, Row, cli, log

TARGET_MINUTES = 5.0


def run(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "kernel_ext"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        result = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True)
        minutes = (time.perf_counter() - started) / 60
        load_after = os.getloadavg()[0]
    output = result.stdout + result.stderr
    if args.log is not None:
        args.log.write_text(output)
    tail = output.strip().splitlines()[-3:]
    failed = [line.split()[1] for line in output.splitlines() if line.startswith("FAILED ")]
    log(f"make test: exit {result.returncode} in {minutes:.1f} min; {' | '.join(tail)}; failed: {failed}")
    summary = next((line for line in reversed(tail) if "passed" in line or "failed" in line), "")
    return [
        Row(
            "test suite",
            "`make test` from a fresh clone (venv, ruff, unit tests, notebooks), 2 cores",
            minutes,
            "min",
            target=f"≤ {TARGET_MINUTES:g} min, green",
            passed=minutes <= TARGET_MINUTES and result.returncode == 0,
            note=f"exit {result.returncode}; load average {load_before:.1f} / {load_after:.1f} "
            f"before / after; last run: {summary.strip('= ')}",
        )
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", type=Path, default=None, help="write make's whole output here")


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=1, options=options)
