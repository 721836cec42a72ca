"""Replace stale classes inside type annotations: `list[Item]`, `Item | None`, `Annotated[...]`.

Also stale dependencies: `Annotated[str, Depends(old)]` and a `= Depends(old)` default.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from .. import _compat as private

TypeMap = Mapping[int, Any]  # id(old class or dependency) -> its current version


def substitute(annotation: Any, mapping: TypeMap) -> Any:
    """`annotation` with every old class in `mapping` swapped for its current version."""
    target = private.depends_target(annotation)
    if target is not None:
        new = mapping.get(id(target), target)
        return annotation if new is target else private.with_dependency(annotation, new)
    if isinstance(annotation, type) and not get_args(annotation):
        return mapping.get(id(annotation), annotation)
    args = get_args(annotation)
    if not args:
        return mapping.get(id(annotation), annotation)
    new_args = tuple(substitute(arg, mapping) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return annotation
    origin = get_origin(annotation)
    if origin is typing.Annotated:  # get_args gives the type, then the metadata
        return typing.Annotated[new_args]
    if origin is types.UnionType:
        return functools.reduce(operator.or_, new_args)
    if isinstance(annotation, types.GenericAlias):
        return types.GenericAlias(origin, new_args)
    copy_with = getattr(annotation, "copy_with", None)
    if copy_with is not None:
        return copy_with(new_args)
    return annotation


def mentions(annotation: Any, ids: set[int]) -> bool:
    """Whether any class whose id is in `ids` appears anywhere inside `annotation`."""
    if id(annotation) in ids:
        return True
    target = private.depends_target(annotation)
    if target is not None:
        return id(target) in ids
    return any(mentions(arg, ids) for arg in get_args(annotation))
