"""Throughput and latency: the quickstart app served in-kernel vs the same app under `uvicorn`.

Both use uvloop and httptools; load comes from wrk (or an httpx client process) in its own process.
Rounds alternate which server goes first, and the ratio is the median of per-round ratios, so a
machine that gets busier during the run hurts both sides alike.
uvicorn runs twice: with its access log on (written to /dev/null) and with `--no-access-log`,
the fastest setting, which users compare against.
Targets: in-kernel ≥ 0.9x standalone req/s with an access log and ≥ 0.95x without one (kernel
idle); p99 ≤ 50 ms while a cell runs a pure-Python loop. A cell whose C code holds the GIL
(`sorted` on a big list) is measured too: a request waits for the call in progress to end.
Usage: .venv/bin/python -m bench.bench_throughput [--rounds N] [--seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._common import (
    APP,
    Kernel,
    LoadResult,
    Row,
    check,
    cli,
    cpu_seconds,
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
# C code that holds the GIL throughout: each sorted() call is one uninterruptible step.
SORT_ITEMS = 300_000
GIL_SETUP = f"import random, time\n_big = [random.random() for _ in range({SORT_ITEMS})]\n_calls = []"
GIL_CELL = (
    "_end = time.time() + {seconds}\nwhile time.time() < _end:\n"
    "    _t = time.perf_counter()\n    sorted(_big)\n    _calls.append(time.perf_counter() - _t)\n"
)


def run(args: argparse.Namespace) -> list[Row]:
    seconds = 2.0 if args.quick else SECONDS
    kernel_rps: list[float] = []
    plain_rps: list[float] = []
    quiet_rps: list[float] = []
    ratios: list[float] = []
    quiet_ratios: list[float] = []
    gil_p99: list[float] = []
    cpu_us: dict[str, list[float]] = {"kernel": [], "plain": [], "quiet": []}  # CPU per request
    pids: dict[str, int] = {}
    kernel_idle_p99: list[float] = []
    plain_p99: list[float] = []
    busy_p99: list[float] = []
    busy_rps: list[float] = []
    busy_loaded_p99: list[float] = []
    busy_slow_switch_p99: list[float] = []
    errors = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory() as tmp_quiet,
        kernel() as k,
        uvicorn_process(APP, Path(tmp), pids=pids) as plain,
        uvicorn_process(APP, Path(tmp_quiet), "--no-access-log", pids=pids) as quiet,
    ):
        check(k, "%load_ext kernel_ext")
        check(k, APP)
        check(k, GIL_SETUP)
        served = k.value("__import__('kernel_ext').base_url()")
        urls = {"kernel": served, "plain": plain, "quiet": quiet}
        pid_of = {"kernel": k.pid, "plain": pids[plain], "quiet": pids[quiet]}
        for url in urls.values():
            load(url + PATH, CONNECTIONS, 1)  # warm them up
        order = list(urls)
        for index in range(args.rounds):
            pair = {}
            for name in order[index % 3 :] + order[: index % 3]:  # each goes first in turn
                cpu = cpu_seconds(pid_of[name])
                pair[name] = load(urls[name] + PATH, CONNECTIONS, seconds)
                used = cpu_seconds(pid_of[name]) - cpu
                cpu_us[name].append(used / (pair[name].rps * round(seconds)) * 1e6)
                errors += pair[name].errors
            kernel_rps.append(pair["kernel"].rps)
            plain_rps.append(pair["plain"].rps)
            quiet_rps.append(pair["quiet"].rps)
            ratios.append(pair["kernel"].rps / pair["plain"].rps)
            quiet_ratios.append(pair["kernel"].rps / pair["quiet"].rps)
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
            gil = _while_busy(k, served + PATH, LATENCY_CONNECTIONS, seconds, GIL_CELL)
            gil_p99.append(gil.p99_ms)
            log(
                f"round {index + 1}: kernel {pair['kernel'].rps:.0f} req/s, uvicorn "
                f"{pair['plain'].rps:.0f} req/s, without access log {pair['quiet'].rps:.0f} req/s, "
                f"busy-cell p99 {busy.p99_ms:.1f} ms, GIL-holding cell p99 {gil.p99_ms:.1f} ms ({busy.tool})"
            )
        sort_ms = 1000 * median(k.value("_calls"))
    ratio, quiet_ratio = median(ratios), median(quiet_ratios)
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
            note=f"uvicorn with its access log on (to /dev/null); {spread(ratios, 'x')}; {errors} errors",
        ),
        Row(
            "throughput",
            f"req/s in-kernel vs uvicorn --no-access-log, kernel idle (c={CONNECTIONS})",
            median(kernel_rps),
            "req/s",
            baseline=median(quiet_rps),
            ratio=quiet_ratio,
            target="≥ 0.95x",
            passed=quiet_ratio >= 0.95,
            note=f"the in-kernel request log stays complete; {spread(quiet_ratios, 'x')}",
        ),
        Row(
            "throughput",
            f"CPU per request in-kernel vs uvicorn --no-access-log, kernel idle (c={CONNECTIONS})",
            median(cpu_us["kernel"]),
            "µs",
            baseline=median(cpu_us["quiet"]),
            ratio=median(cpu_us["kernel"]) / median(cpu_us["quiet"]),
            note="process CPU time / requests served, which a busy machine does not skew as it does "
            f"req/s: lower is better; uvicorn with its access log {median(cpu_us['plain']):.0f} µs; "
            + spread(cpu_us["kernel"], " µs"),
        ),
        Row(
            "throughput",
            f"p99 while a cell's C code holds the GIL (sorted() of {SORT_ITEMS:,} floats, c=1)",
            median(gil_p99),
            "ms",
            note=f"one sorted() call takes {sort_ms:.0f} ms (median): a request waits for the call "
            f"in progress to end, as in any thread of the process; {spread(gil_p99, ' ms')}",
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


def _while_busy(k: Kernel, url: str, connections: int, seconds: float, cell: str = BUSY_CELL) -> LoadResult:
    msg_id = k.send(cell.format(seconds=seconds + 1.5))
    time.sleep(0.5)  # the loop is running
    result = load(url, connections, seconds)
    k.wait(msg_id, timeout=seconds + 30)
    return result


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=5)
