"""What later `%%http` cells see: one per kernel, held by the Session (cheap to import)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from ._file import Template


@dataclass
class HttpMemory:
    """Named responses and `@variables` kept across cells, as REST Client keeps them for a file."""

    responses: dict[str, httpx.Response] = field(default_factory=dict)  # by `# @name`
    variables: dict[str, Template] = field(default_factory=dict)  # `@name = value`
    counts: dict[str, int | None] = field(default_factory=dict)  # the cell each response came in

    def remember_variables(self, variables: Mapping[str, Template]) -> None:
        marked = {name: dataclasses.replace(t, earlier_cell=True) for name, t in variables.items()}
        self.variables.update(marked)
