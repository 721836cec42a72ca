"""The one error type export raises: a message for the user, never a traceback."""

from __future__ import annotations

from .._errors import KernelExtError


class ExportError(KernelExtError, ValueError):
    """The notebook can't be exported as it is; the message says which cell and what to do."""
