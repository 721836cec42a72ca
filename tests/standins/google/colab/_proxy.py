"""The stand-in's proxy: one forwarding server per kernel port, as Colab gives each port an origin."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

PUBLIC_HOST = "{port}-m-s-standin-a.us-west1-0.prod.colab.dev"  # the kind of name Colab's proxy uses
_servers: dict[int, ThreadingHTTPServer] = {}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def proxy_for(port: int) -> str:
    """The URL the browser would use for `port`: http://127.0.0.1:<proxy port>/."""
    if port not in _servers:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(port))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _servers[port] = server
    return f"http://127.0.0.1:{_servers[port].server_address[1]}/"


def _handler(port: int) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.headers.get("upgrade", "").lower() == "websocket":
                self.send_error(502, "WebSockets are not proxied")  # as in Colab
                return
            length = int(self.headers.get("content-length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["host"] = PUBLIC_HOST.format(port=port)
            with httpx.Client(timeout=30) as client:
                answer = client.request(
                    self.command,
                    f"http://127.0.0.1:{port}{self.path}",
                    headers=headers,
                    content=self.rfile.read(length) if length else None,
                )
            self.send_response(answer.status_code)
            for key, value in answer.headers.multi_items():
                if key.lower() not in _HOP_BY_HOP | {"content-encoding"}:
                    self.send_header(key, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass  # a real proxy's log is not the kernel's output

    return Forward
