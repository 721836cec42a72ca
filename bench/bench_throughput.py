"""Throughput and latency: the quickstart app served in-kernel vs the same app under `uvicorn`.

Both use uvloop and httptools; load comes from wrk (or an httpx client process) in its own process.
Rounds alternate which server goes first, and the ratio is the median of per-round ratios, so a
machine that gets busier during the run hurts both sides alike.
Targets: in-kernel ≥ 0.9x standalone req/s (kernel idle); p99 ≤ 50 ms while a cell runs a
pure-Python loop.
Usage: .venv/bin/python bench/bench_throughput.py [--rounds N] [--seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import (
    APP,
    Kernel,
    LoadResult,
    Row,
    check,
    cli,
    kernel,
    load,
    log,
    median,
    spread,
    uvicorn_process,
)

PATH = "/items/7?q=x"
CONNECTIONS = 32
LATENCY_CONNECTIONS = 1  # one client, as a person trying the API: latency, not queueing
LOADED_CONNECTIONS = 8
SECONDS = 5.0
BUSY_CELL = "import time\n_end = time.time() + {seconds}\nwhile time.time() < _end:\n    pass\n"


def run(args: argparse.Namespace) -> list[Row]:
    seconds = 2.0 if args.quick else SECONDS
    kernel_rps: list[float] = []
    plain_rps: list[float] = []
    ratios: list[float] = []
    kernel_idle_p99: list[float] = []
    plain_p99: list[float] = []
    busy_p99: list[float] = []
    busy_rps: list[float] = []
    busy_loaded_p99: list[float] = []
    busy_slow_switch_p99: list[float] = []
    errors = 0
    with tempfile.TemporaryDirectory() as tmp, kernel() as k, uvicorn_process(APP, Path(tmp)) as plain:
        check(k, "%load_ext kernel_ext")
        check(k, APP)
        served = k.value("__import__('kernel_ext').base_url()")
        load(served + PATH, CONNECTIONS, 1)  # warm both up
        load(plain + PATH, CONNECTIONS, 1)
        for index in range(args.rounds):
            pair = {}
            for name in ["kernel", "plain"] if index % 2 == 0 else ["plain", "kernel"]:
                url = served if name == "kernel" else plain
                pair[name] = load(url + PATH, CONNECTIONS, seconds)
                errors += pair[name].errors
            kernel_rps.append(pair["kernel"].rps)
            plain_rps.append(pair["plain"].rps)
            ratios.append(pair["kernel"].rps / pair["plain"].rps)
            kernel_idle_p99.append(load(served + PATH, LATENCY_CONNECTIONS, seconds).p99_ms)
            plain_p99.append(load(plain + PATH, LATENCY_CONNECTIONS, seconds).p99_ms)
            busy = _while_busy(k, served + PATH, LATENCY_CONNECTIONS, seconds)
            busy_p99.append(busy.p99_ms)
            loaded = _while_busy(k, served + PATH, LOADED_CONNECTIONS, seconds)
            busy_loaded_p99.append(loaded.p99_ms)
            busy_rps.append(loaded.rps)
            errors += busy.errors + loaded.errors
            # Diagnostic: the GIL hand-over interval is what a busy cell makes requests wait for;
            # the same measurement at Python's default 5 ms shows what the session's setting buys.
            check(k, "import sys\n_interval = sys.getswitchinterval()\nsys.setswitchinterval(0.005)")
            busy_slow_switch_p99.append(_while_busy(k, served + PATH, LATENCY_CONNECTIONS, seconds).p99_ms)
            check(k, "sys.setswitchinterval(_interval)")
            log(
                f"round {index + 1}: kernel {pair['kernel'].rps:.0f} req/s, uvicorn "
                f"{pair['plain'].rps:.0f} req/s, busy-cell p99 {busy.p99_ms:.1f} ms ({busy.tool})"
            )
    ratio = median(ratios)
    return [
        Row(
            "throughput",
            f"req/s in-kernel, kernel idle (c={CONNECTIONS})",
            median(kernel_rps),
            "req/s",
            baseline=median(plain_rps),
            ratio=ratio,
            target="≥ 0.9x",
            passed=ratio >= 0.9,
            note=f"{spread(ratios, 'x')}; {errors} errors",
        ),
        Row(
            "throughput",
            f"p99 while a cell runs a pure-Python loop (c={LATENCY_CONNECTIONS})",
            median(busy_p99),
            "ms",
            target="≤ 50 ms",
            passed=median(busy_p99) <= 50,
            note=spread(busy_p99, " ms"),
        ),
        Row(
            "throughput",
            f"p99 while a cell runs a pure-Python loop (c={LATENCY_CONNECTIONS}), GIL switch 5 ms",
            median(busy_slow_switch_p99),
            "ms",
            note="diagnostic: sys.setswitchinterval(0.005), Python's default, instead of the "
            "interval the session sets while serving; " + spread(busy_slow_switch_p99, " ms"),
        ),
        Row(
            "throughput",
            f"p99 while a cell runs a pure-Python loop (c={LOADED_CONNECTIONS})",
            median(busy_loaded_p99),
            "ms",
            note=f"{spread(busy_loaded_p99, ' ms')}; {median(busy_rps):.0f} req/s meanwhile",
        ),
        Row(
            "throughput",
            f"p99 in-kernel, kernel idle (c={LATENCY_CONNECTIONS})",
            median(kernel_idle_p99),
            "ms",
            baseline=median(plain_p99),
            ratio=median(kernel_idle_p99) / median(plain_p99),
            note="latency ratio: lower is better",
        ),
    ]


def _while_busy(k: Kernel, url: str, connections: int, seconds: float) -> LoadResult:
    msg_id = k.send(BUSY_CELL.format(seconds=seconds + 1.5))
    time.sleep(0.5)  # the loop is running
    result = load(url, connections, seconds)
    k.wait(msg_id, timeout=seconds + 30)
    return result


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=5)
