"""Fixtures shared by every test file. What they are built from lives in tests/support/."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.kernel import Kernel
from tests.support.ports import free_port
from tests.support.reload_harness import harness  # noqa: F401  (the differential tests' fixture)
from tests.support.shell import Shell, loaded_shell

# Tests that take the longest, started first so that none is left running alone at the end of a
# parallel run (`make test`). Each entry is a node id prefix; earlier entries start earlier.
LONGEST_FIRST = (
    "tests/test_install.py",
    "tests/e2e/",
    "tests/test_export_proof.py",
    "tests/reliability/test_fuzz.py",
    "tests/test_notebooks_reference.py",
    "tests/test_reload_fuzz.py",
    "tests/test_reload_corpus.py",
    "notebooks/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        found = [i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)]
        return found[0] if found else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each group stays


def pytest_collection_finish() -> None:
    # Every import is done by now. IPython's shell reset (twice per `shell` test) runs a full
    # gc.collect, which walks every object those imports made: 0.15 s each here, a sixth of
    # the suite's CPU. Frozen objects are skipped by collections; what tests create is not.
    gc.freeze()


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
