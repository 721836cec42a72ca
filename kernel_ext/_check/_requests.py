"""Requests sent to both apps, and their responses reduced to what must be equal.

The live app answers through uvicorn, the fresh one in process (TestClient, its lifespan
started): headers that only the transport adds are left out.
"""

from __future__ import annotations

import json
from typing import Any

# Added (or not) by the transport, not by the app.
TRANSPORT_HEADERS = frozenset({"date", "server", "connection", "keep-alive", "transfer-encoding"})
BROKEN: dict[str, Any] = {"status": "no complete response", "headers": [], "body": None}
Request = dict[str, Any]  # {"method", "path", optional "params", "json", "headers"}


def normalise(status: int, headers: Any, body: bytes) -> dict[str, Any]:
    kept = sorted([k.lower(), v] for k, v in headers.items() if k.lower() not in TRANSPORT_HEADERS)
    text = body.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return {"status": status, "headers": kept, "body": parsed}


def options(request: Request) -> dict[str, Any]:
    return {k: request[k] for k in ("params", "json", "headers") if request.get(k) is not None}


def send_all(app: Any, requests: list[Request], base_url: str = "http://testserver") -> Any:
    """Each request's normalised response, or {"error": ...} when the app cannot start."""
    from fastapi.testclient import TestClient

    if app is None:
        return {"error": "no app"}
    try:
        # As the live server sees an httpx client on this machine (for endpoints that echo them).
        client_address = ("127.0.0.1", 50000)
        with TestClient(app, base_url, raise_server_exceptions=False, client=client_address) as client:
            return [_send(client, request) for request in requests]
    except Exception as exc:  # the lifespan failed: so would a fresh kernel's server
        return {"error": f"{type(exc).__name__}: {exc}"}


def _send(client: Any, request: Request) -> dict[str, Any]:
    try:
        response = client.request(
            request["method"], request["path"], follow_redirects=False, **options(request)
        )
    except Exception:  # e.g. a stream that fails halfway: uvicorn cuts the connection
        return BROKEN
    return normalise(response.status_code, response.headers, response.content)
