"""An in-process IPython shell with kernel_ext loaded: what the `shell` fixture yields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython


class Shell:
    """The real hooks and the real server, without a kernel process between test and cell."""

    def __init__(self, ip: Any) -> None:
        self.ip = ip

    def run(self, code: str, cell_id: str | None = None) -> Any:
        return self.ip.run_cell(code, store_history=True, cell_id=cell_id)

    def ok(self, code: str, cell_id: str | None = None) -> Any:
        result = self.run(code, cell_id)
        assert result.success, result.error_in_exec or result.error_before_exec
        return result

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns

    @property
    def url(self) -> str:
        import kernel_ext

        return kernel_ext.base_url()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)

    @property
    def session(self) -> Any:
        from kernel_ext._session import current_session

        return current_session()


@contextmanager
def loaded_shell() -> Iterator[Shell]:
    """The process's IPython shell, reset (a fresh history too: %api export reads what the test
    ran), with kernel_ext loaded; unloaded and reset again afterwards. Set KERNEL_EXT_PORT first."""
    ip = start_ipython() or InteractiveShell.instance()
    ip.reset(new_session=True)
    ip.run_cell("%load_ext kernel_ext")
    wrapper = Shell(ip)
    assert wrapper.session is not None and wrapper.session.running
    try:
        yield wrapper
    finally:
        ip.run_cell("%unload_ext kernel_ext")
        ip.reset(new_session=False)
