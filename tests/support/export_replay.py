"""Prove an export: the notebook's own requests, replayed against gunicorn, get the same answers.

1. Run the notebook in a real kernel (nbclient) with two injected cells. The first wraps
   httpx's transports and websockets' sync client, so every request a cell sends to the live
   server and every WebSocket handshake, message and close is recorded with what came back
   (JSON lines, one sequence). The last replays all of it against the live server once more, so
   each has a second answer from the notebook's *final* app.
2. Start the export under gunicorn with the worker count the export chose: two for a
   stateless app, one for an app that keeps state in process memory.
3. Replay the requests and WebSocket exchanges in order, each HTTP request on a fresh
   connection, so with two workers both take part: a stateless claim is tested across them.
   (The access log records which worker served each request; `Proof.workers_seen` counts them.)
4. Compare. A request whose two notebook answers agree is *stable*: gunicorn must give the same
   status and body. One whose answers differ (the route was edited later in the notebook, or
   the answer holds a token or a timestamp) must get one of the notebook's statuses. A
   WebSocket handshake or received message must equal one of the notebook's two.
   `/openapi.json` is compared too: the same paths, methods and schema names.

Only requests through httpx and WebSockets through `websockets.sync` to the live server are
recorded (this is how notebooks, `%%http` and the explorer probe); TestClient calls run
in-process and are not.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import export_replay_ws as _replay_ws
from tests.support.export_replay_ws import WsEvent
from tests.support.ports import free_port

_MAIN_SCHEMA = re.compile(r"^__main____(.+?)(?:__\d+)?$")
_lock = threading.Lock()
_state: dict[str, Any] = {}
_SKIP_HEADERS = frozenset({"host", "connection", "keep-alive", "transfer-encoding"})
_SKIP_FILES = ("*.db", "*.sqlite", "*.sqlite3", ".ipynb_checkpoints", "__pycache__", "*.ipynb")


# --- in the kernel -------------------------------------------------------------------------------


def install_recorder(path: str) -> None:
    """Record every httpx request to the live server into `path` (JSON lines)."""
    if _state.get("installed"):
        return
    _state.update(installed=True, path=path, seq=0, recording=True, env=dict(os.environ))
    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seq = _next_seq() if _ours(request) else None
        if seq is not None:
            request.read()
            _write_request(seq, request)
        response = sync_send(self, request)
        if seq is not None:
            response.stream = _SyncTee(response.stream, seq, response)  # type: ignore[arg-type]
        return response

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        seq = _next_seq() if _ours(request) else None
        if seq is not None:
            await request.aread()
            _write_request(seq, request)
        response = await async_send(self, request)
        if seq is not None:
            response.stream = _AsyncTee(response.stream, seq, response)  # type: ignore[arg-type]
        return response

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    _replay_ws.install_recorder(_next_seq, _append, _ours_host_header)


def _ours(request: httpx.Request) -> bool:
    return _ours_address(request.url.host, request.url.port)


def _ours_host_header(value: str) -> bool:
    try:
        url = httpx.URL(f"http://{value}")
    except httpx.InvalidURL:
        return False
    return _ours_address(url.host, url.port)


def _ours_address(host: str, port: int | None) -> bool:
    if not _state.get("recording"):
        return False
    try:
        import kernel_ext

        base = httpx.URL(kernel_ext.base_url())
    except Exception:
        return False
    local = {"127.0.0.1", "localhost", base.host}
    return host in local and port == base.port


def _next_seq() -> int:
    with _lock:
        _state["seq"] += 1
        return _state["seq"]


def _write_request(seq: int, request: httpx.Request) -> None:
    _append(
        {
            "kind": "request",
            "seq": seq,
            "method": request.method,
            "target": request.url.raw_path.decode("ascii"),
            "headers": [[k, v] for k, v in request.headers.multi_items() if k.lower() not in _SKIP_HEADERS],
            "content": base64.b64encode(request.content).decode(),
        }
    )


def _write_response(seq: int, response: httpx.Response, body: bytes) -> None:
    _append(
        {
            "kind": "response",
            "seq": seq,
            "status": response.status_code,
            "headers": [[k, v] for k, v in response.headers.multi_items()],
            "body": base64.b64encode(body).decode(),
        }
    )


def _append(record: dict[str, Any]) -> None:
    with _lock, open(_state["path"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


class _SyncTee(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, seq: int, response: httpx.Response) -> None:
        self.stream, self.seq, self.response, self.chunks = stream, seq, response, []

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            self.chunks.append(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()
        if self.seq:
            _write_response(self.seq, self.response, b"".join(self.chunks))
            self.seq = 0


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, seq: int, response: httpx.Response) -> None:
        self.stream, self.seq, self.response, self.chunks = stream, seq, response, []

    async def __aiter__(self) -> Any:
        async for chunk in self.stream:
            self.chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()
        if self.seq:
            _write_response(self.seq, self.response, b"".join(self.chunks))
            self.seq = 0


def finish_recording(path: str, app_name: str = "app") -> None:
    """Replay what was recorded against the notebook's final app; note env changes and cwd."""
    _state["recording"] = False
    recording = Recording.load(Path(path))
    client = _final_client(app_name)
    live = not isinstance(client, _testclient_type())
    with client:
        answers = play(recording, client, str(client.base_url) if live else None)
        for seq, answer in answers.items():
            _append(
                {
                    "kind": "final",
                    "seq": seq,
                    "status": answer.status,
                    "headers": [list(pair) for pair in answer.headers],
                    "body": base64.b64encode(answer.body).decode(),
                }
            )
        openapi = _send(client, Exchange(0, "GET", "/openapi.json", [], b""))
        if openapi is not None and openapi.status_code == 200:
            _append({"kind": "openapi", "schema": openapi.json()})
    before = _state.get("env", {})
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    changed.update(_settings_env())
    _append({"kind": "env", "env": changed, "cwd": os.getcwd(), "base_url": str(client.base_url)})


def _testclient_type() -> type:
    try:
        from starlette.testclient import TestClient
    except ImportError:  # no TestClient installed: the final client is always httpx's
        return type(None)
    return TestClient


def _settings_env() -> dict[str, str]:
    """The environment that gives the notebook's pydantic-settings objects their values.

    The deployment supplies configuration; this is the configuration the notebook's app had,
    wherever it came from (environment, a .env file written and deleted by a cell, defaults).
    """
    try:
        from IPython import get_ipython
        from pydantic_settings import BaseSettings
    except ImportError:
        return {}
    shell = get_ipython()
    found: list[Any] = []
    for value in list(shell.user_ns.values()) if shell else []:
        if isinstance(value, BaseSettings):
            found.append(value)
        cache_info = getattr(value, "cache_info", None)
        if callable(cache_info) and cache_info().currsize:  # an lru_cache'd settings factory
            with contextlib.suppress(Exception):
                cached = value()
                if isinstance(cached, BaseSettings):
                    found.append(cached)
    env: dict[str, str] = {}
    for settings in found:
        prefix = settings.model_config.get("env_prefix") or ""
        for name, raw in settings:
            if hasattr(raw, "get_secret_value"):
                raw = raw.get_secret_value()
            text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
            env[(prefix + name).upper()] = text
    return env


def _final_client(app_name: str) -> httpx.Client:
    try:
        import kernel_ext

        return httpx.Client(base_url=kernel_ext.base_url(), timeout=10)
    except RuntimeError:  # the notebook stopped the server: ask the app in-process
        from IPython import get_ipython
        from starlette.testclient import TestClient

        shell = get_ipython()
        assert shell is not None
        return TestClient(shell.user_ns[app_name])


# --- reading a recording -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")

    def decoded(self) -> bytes:
        encoding = next((v for k, v in self.headers if k.lower() == "content-encoding"), "")
        if encoding in ("gzip", "deflate") and self.body:
            try:
                return zlib.decompress(self.body, 47)
            except zlib.error:
                return self.body
        return self.body


@dataclass
class Exchange:
    seq: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    content: bytes
    answer: Answer | None = None  # what the notebook got when it ran
    final: Answer | None = None  # what the notebook's final app answered at the end


WS_MESSAGE = "application/x-websocket-message"


@dataclass
class WsExchange:
    """A WebSocket event, with what the notebook got for it (handshake status, a message)."""

    event: WsEvent
    answer: Answer | None = None
    final: Answer | None = None

    @property
    def seq(self) -> int:
        return self.event.seq

    def describe(self) -> str:
        what = {"connect": "handshake", "recv": "message received"}.get(self.event.op, self.event.op)
        return f"WS {self.event.target} (connection {self.event.conn}) {what}"


@dataclass
class Recording:
    exchanges: list[Exchange]
    openapi: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    base_url: str | None = None
    websockets: list[WsExchange] = field(default_factory=list)

    def events(self) -> list[Exchange | WsExchange]:
        """HTTP exchanges and WebSocket events, in the order the notebook sent them."""
        merged: list[Exchange | WsExchange] = [*self.exchanges, *self.websockets]
        return sorted(merged, key=lambda e: e.seq)

    @classmethod
    def load(cls, path: Path) -> Recording:
        by_seq: dict[int, Exchange | WsExchange] = {}
        recording = cls([])
        connects: dict[int, str] = {}
        if not path.exists():
            return recording
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            kind = record["kind"]
            if kind == "request":
                by_seq[record["seq"]] = Exchange(
                    record["seq"],
                    record["method"],
                    record["target"],
                    [(k, v) for k, v in record["headers"]],
                    base64.b64decode(record["content"]),
                )
            elif kind == "ws":
                event = _replay_ws.event_from(record)
                exchange = WsExchange(event)
                played = _replay_ws.recorded_answer(event)
                if played is not None:
                    exchange.answer = _ws_answer(played)
                by_seq[event.seq] = exchange
                if event.op == "connect":
                    connects[event.conn] = event.target
            elif kind in ("response", "final") and record["seq"] in by_seq:
                answer = Answer(
                    record["status"], [(k, v) for k, v in record["headers"]], base64.b64decode(record["body"])
                )
                setattr(by_seq[record["seq"]], "answer" if kind == "response" else "final", answer)
            elif kind == "openapi":
                recording.openapi = record["schema"]
            elif kind == "env":
                recording.env, recording.cwd = record["env"], record["cwd"]
                recording.base_url = record["base_url"]
        for exchange in by_seq.values():
            if isinstance(exchange, WsExchange) and not exchange.event.target:
                exchange.event.target = connects.get(exchange.event.conn, "")
        recording.exchanges = [e for _, e in sorted(by_seq.items()) if isinstance(e, Exchange)]
        recording.websockets = [e for _, e in sorted(by_seq.items()) if isinstance(e, WsExchange)]
        return recording


def _send(client: httpx.Client, exchange: Exchange) -> httpx.Response | None:
    """Send one recorded request; None if it fails twice (e.g. it timed out in the notebook)."""
    for _attempt in range(2):  # a server closes the connection after a 500: retry on a new one
        request = client.build_request(
            exchange.method, exchange.target, headers=exchange.headers, content=exchange.content
        )
        try:
            return client.send(request, follow_redirects=False)
        except httpx.TransportError:
            continue
    return None


def play(recording: Recording, client: httpx.Client, base_url: str | None) -> dict[int, Answer]:
    """Send the recorded requests and WebSocket events in order; WebSockets only with a
    `base_url` (a live server). What each got, by sequence number."""
    answers: dict[int, Answer] = {}
    player = _replay_ws.Player(base_url) if base_url is not None else None
    try:
        for exchange in recording.events():
            if isinstance(exchange, Exchange):
                response = _send(client, exchange)
                if response is not None:
                    answers[exchange.seq] = Answer(
                        response.status_code, list(response.headers.multi_items()), response.content
                    )
            elif player is not None:
                played = player.play(exchange.event)
                if played is not None:
                    answers[exchange.seq] = _ws_answer(played)
    finally:
        if player is not None:
            player.close()
    return answers


def _ws_answer(played: tuple[int, bytes]) -> Answer:
    return Answer(played[0], [("content-type", WS_MESSAGE)], played[1])


# --- running the notebook, the server, and the comparison -----------------------------------------


def run_notebook(
    notebook: Path, workdir: Path, env: dict[str, str], app_name: str = "app", timeout: int = 180
) -> Recording:
    """Execute a copy of `notebook` in `workdir` with the recorder; return what it recorded."""
    import nbformat
    from nbclient import NotebookClient

    shutil.copytree(notebook.parent, workdir, ignore=shutil.ignore_patterns(*_SKIP_FILES), dirs_exist_ok=True)
    record = workdir / ".kernel_ext_probes.jsonl"
    nb = nbformat.read(str(notebook), as_version=4)
    here = repr(str(record))
    setup = f"import tests.support.export_replay as _kx_replay\n_kx_replay.install_recorder({here})"
    finish = f"_kx_replay.finish_recording({here}, {app_name!r})"
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    nb.cells.append(nbformat.v4.new_code_cell(finish))
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = max(nb.nbformat_minor, 4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    root = str(Path(__file__).resolve().parents[2])  # the kernel imports tests.support from here
    paths = [root, *filter(None, [env.get("PYTHONPATH")])]
    client.execute(env={**env, "PYTHONPATH": os.pathsep.join(paths)})
    return Recording.load(record)


# Every log line carries the pid of the process that wrote it: access lines say which worker
# answered. uvicorn's workers log through gunicorn's loggers, so this covers them too.
_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"pid": {"format": "[pid %(process)d] %(name)s %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "pid", "stream": "ext://sys.stdout"}},
    "root": {"level": "INFO", "handlers": ["out"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}
_SERVED_LINE = re.compile(r'^\[pid (\d+)\] (?:\S+\.access |\S+ .* - "WebSocket )', re.MULTILINE)


@dataclass
class Served:
    """A running gunicorn: its URL, and its log (one line per request, with the worker's pid)."""

    url: str
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def workers_seen(self, since: int = 0) -> set[int]:
        """The pids of the workers that answered a request logged after byte `since`."""
        with open(self.log, "rb") as text:
            text.seek(since)
            return {int(pid) for pid in _SERVED_LINE.findall(text.read().decode(errors="replace"))}


@contextlib.contextmanager
def gunicorn(app_dir: Path, env: dict[str, str], workers: int = 2, timeout: float = 60) -> Iterator[Served]:
    """`gunicorn app.main:app -k uvicorn_worker.UvicornWorker -w N` on a free port."""
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    log_config = app_dir / ".gunicorn-log.json"
    log_config.write_text(json.dumps(_LOG_CONFIG), encoding="utf-8")
    for _attempt in range(3):
        port = free_port()
        log = app_dir / f".gunicorn-{port}.log"
        command = [
            str(gunicorn_bin),
            "app.main:app",
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--log-config-json",
            str(log_config),
        ]
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=app_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            if _wait_ready(process, url, log, workers, timeout):
                yield Served(url, log)
                return
            if "Connection in use" not in log.read_text(errors="replace"):
                raise RuntimeError(f"gunicorn did not start:\n{_tail(log)}")
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    raise RuntimeError("gunicorn could not bind a free port three times")


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, workers: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        booted = len(re.findall(r"Booting worker with pid", log.read_text(errors="replace")))
        if booted >= workers:
            try:
                httpx.get(url + "/__kernel_ext_ready__", timeout=2)
                return _all_started(log, workers)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{_tail(log)}")


def _all_started(log: Path, workers: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return True
        time.sleep(0.1)
    raise RuntimeError(f"not every gunicorn worker started:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def replay(recording: Recording, base_url: str) -> dict[int, Answer]:
    """Send the recorded requests and WebSocket events in order, each HTTP request on a fresh
    connection (so with several workers, any of them may answer any request)."""
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=10, limits=fresh) as client:
        return play(recording, client, base_url)


SPREAD_SECONDS = 30.0
SPREAD_CLIENTS = 4


def spread(recording: Recording, served: Served, since: int, workers: int) -> tuple[set[int], list[str]]:
    """Every worker answers a claim too, when the replay happened to reach only one.

    Sequential connections to a shared listening socket often all go to the worker that just
    answered: which worker accepts is the scheduler's choice. Requests sent side by side reach
    an idle worker while another is busy. Only claims that hold in any state are sent again
    (GETs whose answer in the notebook equals the final app's), and each answer is compared.
    """
    hosts = [h for h in (recording.base_url, served.url) if h]
    claims = [
        e
        for e in recording.exchanges
        if e.method in ("GET", "HEAD")
        and not e.target.split("?")[0].endswith("/openapi.json")  # compared as an outline: see compare
        and e.answer
        and e.final
        and _same(e.answer, e.final, hosts)
    ]
    problems: list[str] = []
    seen = served.workers_seen(since=since)
    if not claims:
        return seen, problems
    deadline = time.monotonic() + SPREAD_SECONDS
    fresh = httpx.Limits(max_keepalive_connections=0)
    with (
        httpx.Client(base_url=served.url, timeout=10, limits=fresh) as client,
        concurrent.futures.ThreadPoolExecutor(SPREAD_CLIENTS) as pool,
    ):
        while len(seen) < workers and time.monotonic() < deadline:
            for exchange, response in zip(claims, pool.map(lambda e: _send(client, e), claims), strict=True):
                assert exchange.answer is not None
                if response is None:
                    continue
                got = Answer(response.status_code, list(response.headers.multi_items()), response.content)
                if got.status != exchange.answer.status or not _same(exchange.answer, got, hosts):
                    where = f"{exchange.method} {exchange.target}"
                    problems.append(
                        f"{where}: notebook {exchange.answer.status} {_show(exchange.answer)}, "
                        f"gunicorn {got.status} {_show(got)} (sent again, side by side)"
                    )
            seen = served.workers_seen(since=since)
    return seen, sorted(set(problems))


def compare(
    recording: Recording, answers: dict[int, Answer], base_url: str, openapi: dict[str, Any] | None
) -> list[str]:
    """Every difference between what the notebook served and what gunicorn served."""
    hosts = [h for h in (recording.base_url, base_url) if h]
    problems = []
    for ws in recording.websockets:
        problem = _compare_ws(ws, answers.get(ws.seq), hosts)
        if problem:
            problems.append(problem)
    for exchange in recording.exchanges:
        got, before, after = answers.get(exchange.seq), exchange.answer, exchange.final
        if got is None or before is None:
            continue
        where = f"{exchange.method} {exchange.target}"
        if exchange.target.split("?")[0].endswith("/openapi.json"):
            # The kernel's schema keeps a replaced dependency's parameters (it overrides the
            # dependency rather than rebuilding the route), so compare the route table only.
            before, after, got = _outline(before), _outline(after), _outline(got)
        stable = after is not None and _same(before, after, hosts)
        if stable:
            if got.status != before.status or not _same(before, got, hosts):
                problems.append(
                    f"{where}: notebook {before.status} {_show(before)}, gunicorn {got.status} {_show(got)}"
                )
        else:
            # The final answer counts unless the notebook broke things at the end (a 5xx after
            # a teardown cell) where it had answered fine.
            allowed = [before]
            if after is not None and (after.status < 500 or before.status >= 500):
                allowed.append(after)
            if (got.status, _shape(got)) not in [(a.status, _shape(a)) for a in allowed]:
                problems.append(
                    f"{where}: notebook "
                    + " then ".join(f"{a.status} {_show(a)}" for a in allowed)
                    + f", gunicorn {got.status} {_show(got)}"
                )
    if recording.openapi is not None:
        mine, theirs = _schema_outline(recording.openapi), _schema_outline(openapi or {})
        if mine != theirs:
            problems.append(f"/openapi.json differs: notebook {mine}, gunicorn {theirs}")
    return problems


def _compare_ws(exchange: WsExchange, got: Answer | None, hosts: list[str]) -> str | None:
    """A handshake status or a received message must be one the notebook got."""
    before, after = exchange.answer, exchange.final
    if before is None:
        return None
    allowed = [before] if after is None or _same(before, after, hosts) else [before, after]
    if got is not None and any(_same(a, got, hosts) for a in allowed):
        return None
    shown = " then ".join(_show_ws(a) for a in allowed)
    return f"{exchange.describe()}: notebook {shown}, gunicorn {_show_ws(got) if got else 'nothing'}"


def _show_ws(answer: Answer) -> str:
    if answer.status == 1:
        return _show(answer)
    if answer.status == 0:
        return answer.body.decode("utf-8", "replace") or "nothing"
    return f"HTTP {answer.status}"


def _outline(answer: Answer | None) -> Answer | None:
    if answer is None or answer.status != 200:
        return answer
    try:
        schema = json.loads(answer.decoded())
    except ValueError:
        return answer
    body = json.dumps(_schema_outline(schema), sort_keys=True).encode()
    return Answer(answer.status, [("content-type", "application/json")], body)


def _same(a: Answer, b: Answer, hosts: list[str]) -> bool:
    if a.status != b.status:
        return False
    return _normal(a, hosts) == _normal(b, hosts)


def _normal(answer: Answer, hosts: list[str]) -> Any:
    body = answer.decoded()
    for host in hosts:
        body = body.replace(host.encode(), b"http://HOST")
    if "json" in answer.content_type():
        try:
            return _tokens(json.loads(body))
        except ValueError:
            pass
    return body


# A JWT: three base64url parts, the first a JSON header (`eyJ` is `{"` encoded).
_JWT = re.compile(r"eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*")
_TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time"})
# The export answers minutes after the notebook did; a token's times move with the clock.
TIME_TOLERANCE = 600.0


def _tokens(value: Any) -> Any:
    """`value` with each JWT string replaced by a `_Token`, compared by what it claims."""
    if isinstance(value, dict):
        return {key: _tokens(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tokens(item) for item in value]
    if isinstance(value, str) and _JWT.fullmatch(value):
        return _Token.parse(value) or value
    return value


@dataclass(frozen=True, eq=False)
class _Token:
    """A JWT as its header and claims. Two are the same when the header and every claim are,
    except that time claims (`exp`, `iat`...) may differ by `TIME_TOLERANCE` seconds: a token
    issued a second later is the same answer. The signature covers those times, so it is not
    compared; the server under test checks it when the token comes back."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @classmethod
    def parse(cls, text: str) -> _Token | None:
        try:
            header, claims = (
                json.loads(base64.urlsafe_b64decode(part + "==")) for part in text.split(".")[:2]
            )
        except ValueError:
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        return cls(header, claims)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Token) or self.header != other.header:
            return False
        if self.claims.keys() != other.claims.keys():
            return False
        return all(_same_claim(key, self.claims[key], other.claims[key]) for key in self.claims)

    __hash__ = None  # type: ignore[assignment]


def _same_claim(key: str, a: Any, b: Any) -> bool:
    if key in _TIME_CLAIMS and isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= TIME_TOLERANCE
    return a == b


def _shape(answer: Answer) -> str:
    """The body's form without its values: JSON keys and value types; else the media type."""
    media = answer.content_type().split(";")[0].strip()
    if "json" in media:
        try:
            return json.dumps(_json_shape(json.loads(answer.decoded())), sort_keys=True)
        except ValueError:
            pass
    return media


def _json_shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_shape(item) for key, item in value.items()}
    if isinstance(value, list):  # any length: state decides how many
        return sorted({json.dumps(_json_shape(item), sort_keys=True) for item in value})
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _show(answer: Answer) -> str:
    text = answer.decoded()[:200].decode("utf-8", "replace")
    return repr(text)


def _schema_outline(schema: dict[str, Any]) -> dict[str, Any]:
    paths = {
        path: sorted(
            m for m in item if m in ("get", "post", "put", "patch", "delete", "head", "options", "trace")
        )
        for path, item in schema.get("paths", {}).items()
    }
    # Two live versions of a notebook class show up as `__main____Item__1`, `__main____Item__2`.
    names = {_MAIN_SCHEMA.sub(r"\1", n) for n in schema.get("components", {}).get("schemas", {})}
    return {"paths": paths, "schemas": sorted(names)}


@dataclass
class Proof:
    compared: int
    stable: int
    problems: list[str]
    recording: Recording
    app_dir: Path
    env: dict[str, str]  # what the server ran with
    workers: int = 2  # what the export chose, and gunicorn ran with
    workers_seen: int = 0  # how many of them answered a replayed request (see spread)


def prove(
    notebook: Path,
    workdir: Path,
    env: dict[str, str] | None = None,
    app_name: str = "app",
    workers: int | None = None,
    recording: Recording | None = None,
) -> Proof:
    """Export `notebook`, run it, serve the export with gunicorn, replay, compare.

    `workers`: gunicorn's worker count; by default the one the export chose.
    `recording`: what an earlier proof of the same notebook recorded (its `Proof.recording`), so
    that the notebook is not run again.
    """
    from kernel_ext._export import export_notebook

    # One hash seed on both sides, so a `set` in a response is listed in the same order.
    base_env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    result = export_notebook(notebook, workdir / "export", app_name=app_name)
    if recording is None:
        kernel_env = {**base_env, "KERNEL_EXT_PORT": str(free_port())}
        recording = run_notebook(notebook, workdir / "run", kernel_env, app_name)
    app_dir = workdir / "export"
    if recording.cwd and (Path(recording.cwd) / ".env").is_file():
        # The deployment supplies configuration; here, the same .env the notebook read.
        shutil.copy(Path(recording.cwd) / ".env", app_dir / ".env")
    server_env = {**base_env, **recording.env}
    server_env.update({s.env: s.value for s in result.secrets if not s.generated})
    server_env.pop("KERNEL_EXT_PORT", None)
    workers = workers or result.workers
    with gunicorn(app_dir, server_env, workers=workers) as served:
        start = served.log_size()
        answers = replay(recording, served.url)
        seen = served.workers_seen(since=start)
        if len(seen) < workers:
            seen, spread_problems = spread(recording, served, start, workers)
        else:
            spread_problems = []
        openapi = httpx.get(served.url + "/openapi.json", timeout=10)
        schema = openapi.json() if openapi.status_code == 200 else None
    problems = compare(recording, answers, served.url, schema)
    reported = {problem.split(": notebook ")[0] for problem in problems}  # one line per request
    problems += [p for p in spread_problems if p.split(": notebook ")[0] not in reported]
    stable = sum(
        1
        for e in recording.exchanges
        if e.answer and e.final and _same(e.answer, e.final, [recording.base_url or ""])
    )
    return Proof(len(answers), stable, problems, recording, app_dir, server_env, workers, len(seen))
