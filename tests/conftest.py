from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from tests.kernel import Kernel, free_port, port_is_free  # noqa: F401  (re-exported for tests)
from tests.reload_harness import harness  # noqa: F401  (the differential tests' fixture)


class Shell:
    """An in-process IPython shell with kernel_ext loaded: the real hooks, the real server."""

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


@pytest.fixture
def shell(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.setenv("KERNEL_EXT_PORT", str(free_port()))  # see tests/kernel.py
    ip = start_ipython() or InteractiveShell.instance()
    ip.reset(new_session=True)  # a fresh history too: %api export reads what this test ran
    ip.run_cell("%load_ext kernel_ext")
    wrapper = Shell(ip)
    assert wrapper.session is not None and wrapper.session.running
    try:
        yield wrapper
    finally:
        ip.run_cell("%unload_ext kernel_ext")
        ip.reset(new_session=False)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel().start()
    try:
        yield k
    finally:
        k.shutdown()


@pytest.fixture
def ex(server: tuple[Any, str]) -> Iterator[Any]:
    """An explorer over the app that the test module's own `server` fixture serves."""
    from kernel_ext._explorer import Explorer

    app, url = server
    explorer = Explorer(lambda: app, url)
    yield explorer
    explorer.close()
