"""Edit to live: re-running a route cell vs `uvicorn --reload` after saving the file, same app.

A poller in this process GETs the route in a tight loop and notes when each new body first
appears. In-kernel, the clock starts when the execute request is sent (shift-enter). The
issue-2 budget is taken inside the kernel, from the end of the cell's own code (its last
statement records `time.perf_counter()`) to the first call of the new endpoint; the same gap as
seen by the polling client is in the notes (perf_counter is CLOCK_MONOTONIC on Linux, one clock
for both processes).
uvicorn --reload (watchfiles) starts the clock when the file has been written. On both sides the
first edit warms up and is not counted.
Targets: ≥ 100x faster than uvicorn --reload; ≤ 10 ms from the end of the cell to the new response.
Usage: .venv/bin/python -m bench.bench_edit_to_live [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._common import APP, Poller, Row, check, cli, kernel, log, median, spread, uvicorn_process

ROUTE = """\
@app.get("/version")
async def read_version():
    return "v{n}"
"""
# In-kernel, the endpoint also notes when it first runs: "served", on the kernel's own clock.
KERNEL_ROUTE = """\
@app.get("/version")
async def read_version():
    _served.setdefault({n}, time.perf_counter())
    return "v{n}"
"""


def in_kernel(rounds: int) -> tuple[list[float], list[float], list[float]]:
    from_submit: list[float] = []
    served_after_end: list[float] = []
    seen_after_end: list[float] = []
    with kernel() as k:
        check(k, "%load_ext kernel_ext")
        check(k, "import time\n_served = {}\n" + APP + KERNEL_ROUTE.format(n=0))
        url = k.value("__import__('kernel_ext').base_url()")
        with Poller(url + "/version") as poller:
            poller.wait_for('"v0"')
            for n in range(1, rounds + 2):  # round 1 warms up and is not counted
                time.sleep(0.2)
                started = time.perf_counter()
                k.run(KERNEL_ROUTE.format(n=n) + "_cell_end = time.perf_counter()")
                seen = poller.wait_for(f'"v{n}"')
                cell_end, served = k.value(f"(_cell_end, _served[{n}])")
                if n == 1:
                    continue
                from_submit.append((seen - started) * 1000)
                served_after_end.append((served - cell_end) * 1000)
                seen_after_end.append((seen - cell_end) * 1000)
    return from_submit, served_after_end, seen_after_end


def with_uvicorn_reload(rounds: int) -> list[float]:
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = workdir / "bench_app.py"
        with (
            uvicorn_process(APP + ROUTE.format(n=0), workdir, "--reload") as url,
            Poller(url + "/version") as poller,
        ):
            poller.wait_for('"v0"', timeout=60)
            for n in range(1, rounds + 2):  # round 1 warms up and is not counted
                time.sleep(0.5)
                source.write_text(APP + ROUTE.format(n=n))
                saved = time.perf_counter()
                seen = poller.wait_for(f'"v{n}"', timeout=60)
                if n > 1:
                    times.append((seen - saved) * 1000)
    return times


def run(args: argparse.Namespace) -> list[Row]:
    rounds = args.rounds
    from_submit, from_cell_end, seen_after_end = in_kernel(rounds)
    log(f"in-kernel: {[round(t, 1) for t in from_submit]} ms")
    reload = with_uvicorn_reload(rounds)
    log(f"uvicorn --reload: {[round(t) for t in reload]} ms")
    ratio = median(reload) / median(from_submit)
    return [
        Row(
            "edit-to-live",
            "re-run route cell -> new response (from shift-enter)",
            median(from_submit),
            "ms",
            baseline=median(reload),
            ratio=ratio,
            target=">= 100x faster",
            passed=ratio >= 100,
            note=f"kernel {spread(from_submit, ' ms')}; uvicorn --reload {spread(reload, ' ms')}",
        ),
        Row(
            "edit-to-live",
            "end of the cell's code -> new endpoint serving (issue-2 budget)",
            median(from_cell_end),
            "ms",
            target="<= 10 ms",
            passed=median(from_cell_end) <= 10,
            note=f"{spread(from_cell_end, ' ms')}; received by the polling client: "
            f"{median(seen_after_end):.1f} ms",
        ),
    ]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=7)
