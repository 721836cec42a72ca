"""Ports: one the OS says is free now, and whether a server could listen on one."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free at this moment. Another process may take it before you bind it: where the
    server can bind port 0 itself (KERNEL_EXT_PORT=0, a pre-bound socket), prefer that."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server (which, like uvicorn, sets SO_REUSEADDR) could listen on the port now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
        return True
