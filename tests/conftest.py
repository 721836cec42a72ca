"""Fixtures shared by every test file. What they are built from lives in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.kernel import Kernel
from tests.support.ports import free_port
from tests.support.reload_harness import harness  # noqa: F401  (the differential tests' fixture)
from tests.support.shell import Shell, loaded_shell


@pytest.fixture
def shell(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.setenv("KERNEL_EXT_PORT", str(free_port()))  # see tests/support/kernel.py
    with loaded_shell() as wrapper:
        yield wrapper


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
