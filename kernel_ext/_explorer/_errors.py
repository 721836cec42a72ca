"""The one exception the explorer raises for a user mistake."""

from __future__ import annotations


class ExplorerError(ValueError):
    """A mistake in how the explorer was asked to do something (unknown route, parameter...)."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through the explorer's own code.
        return [f"ExplorerError: {self}"]
