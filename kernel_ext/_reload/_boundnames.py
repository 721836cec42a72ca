"""Which namespace names a cell can rebind, read from its code before it runs.

Hot reload has to know which names a cell rebound. Diffing the whole namespace after every cell
costs time in proportion to everything ever defined; reading the cell's AST costs time in
proportion to the cell. The answer must never miss a name: it may name more than the cell binds
(the hooks then compare those too), and when the code can bind names it does not spell out
(`exec`, `globals()`, magics, `import *`) it answers None, "diff everything".

IPython hands each cell's parsed AST to its `ast_transformers` just before running it; `NameWatch`
sits there, reports what it read, and returns the tree untouched.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

# Names through which code binds globals it does not spell out. `get_ipython` covers every
# magic and shell escape, which IPython rewrites into `get_ipython().run_line_magic(...)`.
_DYNAMIC = frozenset({"exec", "eval", "globals", "vars", "locals", "get_ipython", "__main__"})
# Ways to get hold of the namespace itself. Stored in a variable (`ns = globals()`), a handle
# lets any later cell bind names through it (`ns["dep"] = ...`), so from then on every cell diffs
# the whole namespace. Only passed along (`exec(code, globals())`), it makes just this cell do so.
_NAMESPACE_HANDLES = frozenset({"globals", "vars", "locals", "__main__", "get_ipython"})
_NAMESPACE_ATTRIBUTES = frozenset({"modules", "user_ns", "user_global_ns", "user_module", "__globals__"})
_STORES = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)


@dataclass
class CellCode:
    """What one cell's code can bind."""

    names: set[str] | None  # None: anything (diff the whole namespace)
    # Names that functions defined here may bind when called later (`global x` inside them).
    later: set[str] = field(default_factory=set)
    # Code run later may bind anything: a function defined here uses `globals()`, or this code
    # took hold of the namespace itself.
    later_anything: bool = False


def read_cell(tree: ast.AST) -> CellCode:
    names: set[str] = set()
    dynamic = False
    later: set[str] = set()
    later_anything = False
    for node in ast.walk(tree):
        names.update(_binds(node))
        dynamic = dynamic or _reaches_globals(node)
        if isinstance(node, _STORES) and node.value is not None:
            later_anything = later_anything or any(map(_handles_namespace, ast.walk(node.value)))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            later_anything = later_anything or _reaches_globals(node)  # `import __main__` keeps one
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Global):
                    later.update(inner.names)
                later_anything = later_anything or _reaches_globals(inner)
    return CellCode(None if dynamic else names | later, later, later_anything)


def _binds(node: ast.AST) -> list[str]:
    """Names `node` binds, wherever it sits (a function's locals too: naming more is harmless)."""
    if isinstance(node, ast.Name):
        return [] if isinstance(node.ctx, ast.Load) else [node.id]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.Global):
        return list(node.names)
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    return []


def _handles_namespace(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _NAMESPACE_HANDLES
    if isinstance(node, ast.Attribute):
        return node.attr in _NAMESPACE_ATTRIBUTES
    return False


def _reaches_globals(node: ast.AST) -> bool:
    """Whether `node` can bind globals without naming them."""
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load) and node.id in _DYNAMIC
    if isinstance(node, ast.Attribute):  # sys.modules["__main__"], f.__globals__, ip.user_ns
        return node.attr in _NAMESPACE_ATTRIBUTES
    if isinstance(node, ast.ImportFrom):
        return node.module == "__main__" or any(alias.name == "*" for alias in node.names)
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "__main__" for alias in node.names)
    return False


class NameWatch:
    """An IPython AST transformer that reports each cell's code to `on_cell` and changes nothing."""

    def __init__(self, on_cell: Callable[[CellCode], None]) -> None:
        self.on_cell = on_cell

    def visit(self, tree: ast.AST) -> ast.AST:
        # IPython unregisters a transformer that raises: never raise, fall back to "anything".
        try:
            code = read_cell(tree)
        except Exception:
            code = CellCode(None)
        self.on_cell(code)
        return tree
