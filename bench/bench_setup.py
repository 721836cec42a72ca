"""A newcomer's first `make lab`: from `git clone` to JupyterLab answering, with uv and with pip.

Each run clones this repository into a new directory and runs `make lab` there, as the README
says, until `/lab` answers 200; the time until `.venv/.installed` appears is the install's share.
The package caches are warm (one uncounted run per installer first), as on a machine that has
installed these packages before. uv comes from the package index into `.venv` unless it is on PATH.

Writes the "Set-up" section of bench/RESULTS.md (make bench keeps it).
Usage: flock /tmp/kernel_ext_bench.lock .venv/bin/python -m bench.bench_setup [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Set-up: a fresh `make lab`"
TIMEOUT = 900.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(installer: str, work: Path) -> tuple[float, float]:
    """(clone -> /lab answering, clone -> install done), in seconds."""
    import httpx

    clone, home = work / "clone", work / "home"
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERNEL_EXT_", "MAKE", "VIRTUAL_ENV"))}
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.endswith("/.venv/bin"))
    lab_args = (
        f"--no-browser --ServerApp.port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    )
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    log = (work / "make.log").open("wb")
    process = subprocess.Popen(
        ["make", "lab", f"INSTALLER={installer}", f"LAB_ARGS={lab_args}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    installed = answered = None
    try:
        while answered is None:
            if time.perf_counter() - started > TIMEOUT or process.poll() is not None:
                raise RuntimeError(f"make lab did not answer:\n{(work / 'make.log').read_text()[-3000:]}")
            if installed is None and (clone / ".venv" / ".installed").exists():
                installed = time.perf_counter() - started
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5).status_code == 200:
                    answered = time.perf_counter() - started
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    used = (work / "make.log").read_text()
    expected = "with pip" if installer == "pip" else "with uv"
    assert expected in used, f"{installer}: {used[:2000]}"
    return answered, installed if installed is not None else answered


def measure(installer: str, rounds: int) -> list[tuple[float, float]]:
    runs = []
    for index in range(rounds + 1):  # the first warms the caches and is not counted
        with tempfile.TemporaryDirectory(prefix=f"bench-setup-{installer}-") as tmp:
            total, install = one_run("auto" if installer == "uv" else "pip", Path(tmp))
        print(f"{installer} run {index}: {total:.1f} s (install {install:.1f} s)", flush=True)
        if index:
            runs.append((total, install))
    return runs


def section(results: dict[str, list[tuple[float, float]]], context: str) -> str:
    lines = [
        SECTION,
        "",
        "Written by bench/bench_setup.py, not by `make bench` (which keeps this section): "
        "`git clone` of this repository, then `make lab` in the clone, until `/lab` answers 200. "
        "Package caches warm (one uncounted run first). uv is not on PATH: `make` installs it "
        "from the package index into `.venv` and uses it; `INSTALLER=pip` forces pip.",
        "",
        f"- {context}",
        "",
        "| installer | clone → JupyterLab answering | of which clone → install done | runs |",
        "|---|---:|---:|---|",
    ]
    for installer, runs in results.items():
        totals, installs = [r[0] for r in runs], [r[1] for r in runs]
        lines.append(
            f"| {installer} | {statistics.median(totals):.1f} s | {statistics.median(installs):.1f} s "
            f"| {len(runs)} runs, {min(totals):.1f}..{max(totals):.1f} s |"
        )
    if {"uv", "pip"} <= results.keys():
        uv, pip = (statistics.median(r[0] for r in results[k]) for k in ("uv", "pip"))
        lines += ["", f"uv makes the whole first `make lab` {pip / uv:.1f}x faster than pip."]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace this section of RESULTS.md, keeping what is above and below it (other scripts'
    sections follow it); appended if it is not there yet."""
    current = path.read_text() if path.exists() else ""
    head, found, rest = current.partition(SECTION)
    tail = rest[rest.index("\n## ") + 1 :] if found and "\n## " in rest else ""
    head = head.rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + text + ("\n" + tail if tail else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--installers", nargs="*", default=["uv", "pip"])
    args = parser.parse_args()
    if shutil.which("uv"):
        print("note: uv is on PATH, so the uv runs use it instead of installing it", flush=True)
    load = os.getloadavg()[0]
    results = {name: measure(name, args.rounds) for name in args.installers}
    context = (
        f"date: {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPUs; "
        f"load average (1 min) before / after: {load:.1f} / {os.getloadavg()[0]:.1f}"
    )
    text = section(results, context)
    write_section(text)
    print(text)


if __name__ == "__main__":
    main()
