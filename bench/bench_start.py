"""Start: `%load_ext kernel_ext` to the first 200, cold and warm, and `%reload_ext`.

- cold: a fresh kernel (ready, nothing imported); `%load_ext kernel_ext` and a cell defining the
  app are sent together; the clock stops at the first 200 from a poller in this process.
- warm: fastapi and uvicorn imported and the app defined in an earlier cell; then `%load_ext`.
- reload: `%reload_ext kernel_ext` with the app defined, until it answers 200 again.
Reference: plain `uvicorn bench_app:app` from process start to its first 200 (imports included).
Target (issue 2): warm ≤ 100 ms.
Usage: .venv/bin/python -m bench.bench_start [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import (
    APP,
    PYTHON,
    Kernel,
    Row,
    check,
    cli,
    free_port,
    kernel,
    log,
    median,
    spread,
    status,
    wait_for,
)


def _first_200(url: str, started: float, timeout: float = 120) -> float:
    wait_for(lambda: status(url) == 200, timeout, step=0.0005)
    return (time.perf_counter() - started) * 1000


def cold(port: int, env: dict[str, str]) -> float:
    with kernel(port, env) as k:
        started = time.perf_counter()
        first, second = k.send("%load_ext kernel_ext"), k.send(APP)
        elapsed = _first_200(f"http://127.0.0.1:{port}/", started)
        _ok(k, first)
        _ok(k, second)
    return elapsed


def warm(port: int, env: dict[str, str]) -> tuple[float, float]:
    with kernel(port, env) as k:
        check(k, "import fastapi, uvicorn, httpx\n" + APP)
        started = time.perf_counter()
        msg_id = k.send("%load_ext kernel_ext")
        elapsed = _first_200(f"http://127.0.0.1:{port}/", started)
        _ok(k, msg_id)
        # The restart happens inside the cell, so: until the cell is done and a 200 comes back.
        started = time.perf_counter()
        _ok(k, k.send("%reload_ext kernel_ext"))
        reload = _first_200(f"http://127.0.0.1:{port}/", started)
    return elapsed, reload


def _ok(k: Kernel, msg_id: str) -> None:
    reply = k.wait(msg_id, timeout=120)
    if reply.status != "ok":
        raise RuntimeError(reply.traceback)


def plain_uvicorn() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_app.py").write_text(APP)
        port = free_port()
        command = [PYTHON, "-m", "uvicorn", "bench_app:app", "--port", str(port)]
        command += ["--loop", "uvloop", "--http", "httptools"]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return _first_200(f"http://127.0.0.1:{port}/", started)
        finally:
            process.terminate()
            process.wait(10)


def run(args: argparse.Namespace) -> list[Row]:
    results: dict[str, list[float]] = {"cold": [], "warm": [], "reload": [], "uvicorn": []}
    diagnostic: dict[str, list[float]] = {"cold": [], "warm": []}
    no_proxy = {"KERNEL_EXT_PROXY": "0"}  # no jupyter-server-proxy lookup: see the note
    for index in range(args.rounds):
        results["cold"].append(cold(free_port(), {}))
        warm_ms, reload_ms = warm(free_port(), {})
        results["warm"].append(warm_ms)
        results["reload"].append(reload_ms)
        results["uvicorn"].append(plain_uvicorn())
        diagnostic["cold"].append(cold(free_port(), no_proxy))
        diagnostic["warm"].append(warm(free_port(), no_proxy)[0])
        log(f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in results.items()))
    plain = median(results["uvicorn"])
    warm_ms = median(results["warm"])
    return [
        Row(
            "start",
            "cold: fresh kernel, %load_ext + app cell -> first 200",
            median(results["cold"]),
            "ms",
            baseline=plain,
            ratio=median(results["cold"]) / plain,
            note=f"{spread(results['cold'], ' ms')}; baseline: `uvicorn app:app` process start -> first 200",
        ),
        Row(
            "start",
            "warm: fastapi/uvicorn imported, app defined, %load_ext -> first 200",
            warm_ms,
            "ms",
            target="<= 100 ms",
            passed=warm_ms <= 100,
            note=spread(results["warm"], " ms"),
        ),
        Row(
            "start",
            "%reload_ext kernel_ext -> first 200 again",
            median(results["reload"]),
            "ms",
            note=spread(results["reload"], " ms"),
        ),
        Row(
            "start",
            "cold, KERNEL_EXT_PROXY=0 (no jupyter_server lookup)",
            median(diagnostic["cold"]),
            "ms",
            note="diagnostic: " + spread(diagnostic["cold"], " ms"),
        ),
        Row(
            "start",
            "warm, KERNEL_EXT_PROXY=0 (no jupyter_server lookup)",
            median(diagnostic["warm"]),
            "ms",
            note="diagnostic: " + spread(diagnostic["warm"], " ms"),
        ),
    ]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=5)
