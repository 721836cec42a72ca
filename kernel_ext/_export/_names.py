"""Which module-level names a top-level statement binds, reads, and changes in place."""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

_SIMPLE = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Expr,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
)
_COMPREHENSIONS = {"listcomp", "setcomp", "dictcomp", "genexpr"}


@dataclass(frozen=True)
class Names:
    binds: frozenset[str]
    eager: frozenset[str]  # read while the statement runs
    lazy: frozenset[str]  # read later, when a function it defines is called
    mutates: frozenset[str]  # objects changed in place: `app.x = ...`, `@app.get`, `db.add(...)`
    conditional: bool  # a compound statement may or may not bind what it binds
    top_level_await: bool = False

    @property
    def uses(self) -> frozenset[str]:
        return self.eager | self.lazy


def analyse(stmt: ast.stmt) -> Names:
    conditional = not isinstance(stmt, _SIMPLE)
    mutates = frozenset(mutated_roots(stmt))
    if has_top_level_await(stmt):
        loaded = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        stored = _stored_names(stmt)
        return Names(frozenset(stored), frozenset(loaded - stored), frozenset(), mutates, True, True)
    table = symtable.symtable(ast.unparse(stmt), "<cell>", "exec")
    binds: set[str] = set()
    eager: set[str] = set()
    for symbol in table.get_symbols():
        name = symbol.get_name()
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
            binds.add(name)
        if symbol.is_referenced():
            eager.add(name)
    if conditional:
        eager -= binds
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        eager.add(stmt.target.id)
    lazy: set[str] = set()
    rebinds: set[str] = set()
    for child in table.get_children():
        _scan(
            child,
            child.get_type() == "function" and child.get_name() not in _COMPREHENSIONS,
            eager,
            lazy,
            rebinds,
        )
    return Names(frozenset(binds), frozenset(eager), frozenset(lazy), mutates | rebinds, conditional)


def _scan(
    table: symtable.SymbolTable, lazy_here: bool, eager: set[str], lazy: set[str], rebinds: set[str]
) -> None:
    target = lazy if lazy_here else eager
    for symbol in table.get_symbols():
        if symbol.is_global() and symbol.is_referenced():
            target.add(symbol.get_name())
        if symbol.is_declared_global() and symbol.is_assigned():
            rebinds.add(symbol.get_name())
            lazy.add(symbol.get_name())
    for child in table.get_children():
        is_function = child.get_type() == "function" and child.get_name() not in _COMPREHENSIONS
        _scan(child, lazy_here or is_function, eager, lazy, rebinds)


def chain_root(node: ast.expr) -> str | None:
    """`app` for `app.state.cache["k"]`; None when the chain passes through a call."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def mutated_roots(stmt: ast.stmt) -> set[str]:
    roots: set[str] = set()
    for node in module_level_nodes(stmt):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            targets = [node.value.func] if isinstance(node.value.func, ast.Attribute) else []
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                func = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(func, ast.Attribute):
                    targets.append(func)
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript):
                root = chain_root(target)
                if root is not None:
                    roots.add(root)
    return roots


def module_level_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """Nodes that run when the statement runs: not the bodies of functions or classes."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def has_top_level_await(stmt: ast.stmt) -> bool:
    kinds = ast.Await | ast.AsyncFor | ast.AsyncWith
    return any(isinstance(node, kinds) for node in module_level_nodes(stmt))


def _stored_names(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
