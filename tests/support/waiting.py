"""The one polling helper: wait until something holds."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, step: float = 0.005, what: str = ""
) -> float:
    """Poll `condition` until it returns something true; returns the seconds that took.

    `timeout` is a hang detector, not a budget: pick it generous, and assert on what happened,
    never on the seconds returned (bench scripts report them). Raises TimeoutError naming `what`.
    """
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"still waiting for {what or 'the condition'} after {timeout:g} s")
        time.sleep(step)
    return time.perf_counter() - start
