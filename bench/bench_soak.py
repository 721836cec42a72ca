"""Soak: 10,000 cell edits while 20 clients send requests without pause.

Each edit re-runs one cell that redefines a model, a dependency and the route using both. Twenty
client threads (half on keep-alive connections, half on a fresh connection per request) GET the
route in a loop the whole time. Every answer must be 200 and whole from one version (the tag the
dependency gave matches the version the route returned); a connection error, a 404 or a 5xx is
a failure. The kernel's resident memory is read before and after.
Bounded: `--edits N` (default 10,000) and `--minutes M` (default 30), whichever comes first.
Usage: .venv/bin/python -m bench.bench_soak [--edits N] [--minutes M] [--json PATH]
       (`make soak`; not part of `make test`)
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

from bench._common import APP, Row, check, cli, kernel, log

EDITS = 10_000
CLIENTS = 20
MINUTES = 30.0
CELL = """\
from fastapi import Depends

class Version(BaseModel):
    v: int
    tag: str

def version_tag() -> str:
    return "t{n}"

@app.get("/v", response_model=Version)
def read_version(tag: str = Depends(version_tag)):
    return {{"v": {n}, "tag": tag, "dropped_by_response_model": True}}
"""


class Clients:
    """`count` threads GETting `path` until stopped, counting every outcome."""

    def __init__(self, url: str, path: str, count: int) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port, path
        self.outcomes: Counter[str] = Counter()
        self.samples: dict[str, str] = {}  # outcome -> one example
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(i % 2 == 0,), daemon=True) for i in range(count)
        ]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def _note(self, outcome: str, example: str = "") -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if outcome != "ok":
                self.samples.setdefault(outcome, example)

    def _loop(self, keep_alive: bool) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                connection.request("GET", self.path, headers={} if keep_alive else {"connection": "close"})
                response = connection.getresponse()
                body = response.read()
                self._note(*_judge(response.status, body))
                if not keep_alive or response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                self._note("connection error", f"{type(error).__name__}: {error}")
                if connection is not None:
                    connection.close()
                connection = None


def _judge(status: int, body: bytes) -> tuple[str, str]:
    if status == 404:
        return "404", body[:200].decode("utf-8", "replace")
    if status >= 500:
        return "5xx", body[:200].decode("utf-8", "replace")
    if status != 200:
        return f"HTTP {status}", body[:200].decode("utf-8", "replace")
    try:
        answer = json.loads(body)
    except ValueError:
        return "not JSON", body[:200].decode("utf-8", "replace")
    if set(answer) != {"v", "tag"} or answer["tag"] != f"t{answer['v']}":
        return "mixed versions", repr(answer)
    return "ok", ""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def run(args: argparse.Namespace) -> list[Row]:
    edits = 300 if args.quick else args.edits
    deadline = time.monotonic() + args.minutes * 60
    with kernel() as k:
        pid = k.pid
        check(k, "%load_ext kernel_ext")
        check(k, APP)
        check(k, CELL.format(n=0))
        url = k.value("__import__('kernel_ext').base_url()")
        start_mb = rss_mb(pid)
        started = time.perf_counter()
        done = 0
        with Clients(url, "/v", CLIENTS) as clients:
            for n in range(1, edits + 1):
                if time.monotonic() > deadline:
                    break
                check(k, CELL.format(n=n))
                done = n
                if n % 1000 == 0:
                    outcomes = dict(clients.outcomes)
                    log(f"{n} edits, {clients.total} requests, {outcomes}, RSS {rss_mb(pid):.1f} MB")
        took = time.perf_counter() - started
        end_mb = rss_mb(pid)
    bad = {outcome: n for outcome, n in clients.outcomes.items() if outcome != "ok"}
    failures = sum(bad.values())
    examples = "; ".join(f"{outcome}: {clients.samples[outcome]}" for outcome in bad)[:300]
    return [
        Row(
            "soak",
            f"{done:,} cell edits while {CLIENTS} clients send requests without pause",
            failures,
            "failed",
            target="0 errors, 0 404s, 0 5xx",
            passed=failures == 0 and done == edits,
            note=f"{clients.total:,} requests in {took / 60:.1f} min ({clients.total / took:.0f} req/s); "
            f"RSS {start_mb:.1f} -> {end_mb:.1f} MB "
            f"({(end_mb - start_mb) * 1024 / max(done, 1):.2f} KB per edit)"
            + (f"; {bad}: {examples}" if bad else ""),
        )
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edits", type=int, default=EDITS)
    parser.add_argument("--minutes", type=float, default=MINUTES)


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, rounds=1, options=options)
