"""Run the whole suite several times on a loaded machine and list every test that failed once.

A test that passes on a quiet machine and fails when the CPU is short is flaky: it waits on a
fixed time somewhere, or races. Each run here is `make test`'s pytest command with `--hogs`
busy processes beside it (default: one per core, so the suite gets half the CPU it expects).
Usage: .venv/bin/python tools/flake_hunt.py [--runs 3] [--hogs N] [--workers N]
Exit status 1 when any test failed in any run.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hog() -> None:
    while True:
        pass


def failures(junit: Path) -> list[str]:
    """Node ids of the tests that failed or errored in one run's JUnit report."""
    found = []
    for case in ET.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            found.append(f"{case.get('classname')}::{case.get('name')}")
    return found


def one_run(workers: int, junit: Path) -> tuple[int, float]:
    command = [sys.executable, "-m", "pytest", "-n", str(workers), "--dist", "worksteal", "-q"]
    command += ["-p", "no:cacheprovider", f"--junitxml={junit}", "tests", "--nbmake", "notebooks/"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cores = os.cpu_count() or 1
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=cores, help="busy processes beside the suite")
    parser.add_argument("--workers", type=int, default=2 * cores, help="pytest-xdist workers")
    args = parser.parse_args()
    hogs = [multiprocessing.Process(target=hog, daemon=True) for _ in range(args.hogs)]
    for process in hogs:
        process.start()
    failed: collections.Counter[str] = collections.Counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(1, args.runs + 1):
                junit = Path(tmp) / f"run-{run}.xml"
                code, seconds = one_run(args.workers, junit)
                these = failures(junit) if junit.exists() else ["(no report: pytest did not finish)"]
                failed.update(these)
                print(f"run {run}: exit {code} in {seconds / 60:.1f} min, {len(these)} failed", flush=True)
                for name in these:
                    print(f"  {name}", flush=True)
    finally:
        for process in hogs:
            process.terminate()
    setting = f"{args.runs} runs, {args.hogs} hogs, {args.workers} workers"
    print(f"{setting}: {len(failed)} tests failed at least once")
    for name, count in failed.most_common():
        print(f"  {count}/{args.runs}  {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
