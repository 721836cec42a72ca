"""The base of every error kernel_ext raises for the user to act on."""

from __future__ import annotations

from typing import ClassVar


class KernelExtError(Exception):
    """A mistake or a failure the message explains: IPython shows the message, not a traceback
    through kernel_ext's frames. The cell still fails, so nbmake reports the notebook.

    Subclasses keep a builtin base too where callers catch it (ValueError, RuntimeError).
    """

    # What stands before the message; the class name unless a subclass sets it.
    label: ClassVar[str] = ""

    def _render_traceback_(self) -> list[str]:
        return [f"{self.label or type(self).__name__}: {self}"]
