"""The one exception the explorer raises for a user mistake."""

from __future__ import annotations

from .._errors import KernelExtError


class ExplorerError(KernelExtError, ValueError):
    """A mistake in how the explorer was asked to do something (unknown route, parameter...)."""
