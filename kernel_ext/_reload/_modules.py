"""Modules the notebook imports from its own files, reloaded like cells re-run.

`%autoreload`, `importlib.reload`, `kernel_ext.reload()` and `%api watch` all re-execute a
module in its own namespace. Here that namespace is compared with a copy taken when it was last
settled, as a cell's rebound names are: each router, class or function it made again maps old ->
new, and the engine (`HotReloader.replace_objects`) re-points includes of the old routers and
rebuilds the routes that use an old class or dependency. Names elsewhere that still hold an old
object (the notebook's `from shop.items import Item`, another module's import) are rebound, as a
fresh run would bind them; an instance of an old class can't be, and is named in a warning.

Noticing a reload costs one identity check per tracked module and cell: importlib gives the
module a new `__spec__` on every reload, even a failed one.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import os
import sys
import time
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.routing import APIRouter
from starlette.applications import Starlette

from .. import _compat
from .._errors import KernelExtError
from ._hotreload import warn

_MISSING = object()
_OWN_PACKAGE = str(Path(__file__).resolve().parent.parent)  # kernel_ext itself, not only _reload


class ReloadError(KernelExtError, RuntimeError):
    """A module could not be reloaded; its previous version keeps serving."""


@dataclass
class Tracked:
    module: types.ModuleType
    spec: Any  # `module.__spec__` when last settled: a reload replaces it
    names: dict[str, Any]  # a copy of the module's namespace when last settled

    @classmethod
    def of(cls, module: types.ModuleType) -> Tracked:
        return cls(module, getattr(module, "__spec__", None), dict(module.__dict__))


@dataclass
class StaleObject:
    """A value built from an old class or function, held where a reload can't rebuild it."""

    where: dict[str, Any]
    name: str
    value: Any
    label: str  # "cached" (the notebook's) or "shop.main.client"
    detail: str
    fix: str

    @property
    def message(self) -> str:
        return f"{self.label} {self.detail}; {self.fix}."

    @property
    def still_stale(self) -> bool:
        return self.where.get(self.name) is self.value


@dataclass
class Reloaded:
    modules: list[str]
    replaced: int = 0  # old objects mapped to new ones
    rebound: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ModuleWatch:
    """Keeps track of the notebook's own modules; `settle()` applies the ones reloaded.

    Also an IPython AST transformer: IPython calls `visit` after every `pre_run_cell` hook
    (%autoreload reloads in one) and before the cell's code runs, so the cell sees the new app.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._tracked: dict[str, Tracked] = {}
        self._seen: set[str] = set()  # module names already looked at
        self._module_count = -1
        self._stale: dict[tuple[int, str], StaleObject] = {}

    # --- noticing reloads ---------------------------------------------------------------------

    def visit(self, node: ast.AST) -> ast.AST:
        self.settle_quietly()
        return node

    def settle_quietly(self) -> None:
        """`settle()` from a hook: never raises into the cell (IPython would also drop an AST
        transformer that raises)."""
        try:
            self.settle()
        except Exception:
            self.session._report_bug("after a module reload")

    def settle(self) -> Reloaded | None:
        """Apply whatever reloads happened since the last call. Cheap when none did."""
        if len(sys.modules) != self._module_count:
            self._discover()
        self._keep_autoreload_whole()  # %autoreload may have been loaded since
        modules = sys.modules
        reloaded = [
            (name, t)
            for name, t in self._tracked.items()
            if modules.get(name) is not t.module or getattr(t.module, "__spec__", None) is not t.spec
        ]
        if not reloaded:
            return None
        for name, _ in [r for r in reloaded if r[0] not in modules]:  # deleted, not reloaded
            del self._tracked[name]
            self._seen.discard(name)
        reloaded = [r for r in reloaded if r[0] in modules]
        return self._apply(reloaded) if reloaded else None

    def _discover(self) -> None:
        modules = sys.modules
        for name in modules.keys() - self._seen:
            self._seen.add(name)
            module = modules.get(name)
            if isinstance(module, types.ModuleType) and _is_own_file(module):
                self._tracked[name] = Tracked.of(module)
        self._module_count = len(modules)

    def _keep_autoreload_whole(self) -> None:
        """IPython 9's `%autoreload` patches a module in place when only definitions changed
        ("deduperreload"): a route it adds stacks on the old router, a moved route keeps its old
        path, a new model field becomes a class attribute. For these modules it re-executes the
        module instead (as `%autoreload 2-` does), which this module can settle."""
        _compat.decline_autoreload_patching(self.session.shell, self._tracked)

    # --- applying one ---------------------------------------------------------------------------

    def _apply(self, reloaded: list[tuple[str, Tracked]]) -> Reloaded:
        replaced: dict[int, Any] = {}
        old: dict[int, tuple[Any, str]] = {}  # id -> (old class or function, its module)
        for name, t in reloaded:
            module: object = sys.modules.get(name, t.module)
            if not isinstance(module, types.ModuleType):  # something else put in its place
                module = t.module
            new_names = module.__dict__
            for key, before in t.names.items():
                new = new_names.get(key, _MISSING)
                if new is before or new is _MISSING or not _replaceable(before, new):
                    continue
                replaced[id(before)] = new
                old[id(before)] = (before, name)
            self._tracked[name] = Tracked.of(module)
        result = Reloaded([name for name, _ in reloaded], len(replaced))
        reloaded_names = {name for name, _ in reloaded}
        if not replaced:
            self._settle_registrations(reloaded_names)
            return result
        result.rebound = self._rebind(replaced, reloaded_names)
        changes = self.session.reloader.replace_objects(replaced)
        result.warnings = [*changes.warnings, *self._find_stale(old, reloaded_names)]
        session = self.session
        self._settle_registrations(reloaded_names)
        session.request_log.write(_summary(result, changes.routes, changes.rebuilt))
        for message in result.warnings:
            warn(message)
        if changes.any or result.rebound:
            session.last_reload = time.time()
            session._notify()
        return result

    def _settle_registrations(self, reloaded: set[str]) -> None:
        """Middleware and handlers the modules added to apps made elsewhere follow the cell
        rules, owned by the modules: a reload replaces them rather than stacking copies."""
        session = self.session
        changes = session.reloader.settle_registrations("module:" + ",".join(sorted(reloaded)))
        if changes.middleware:
            session.gateway.rebuild_stack()
        if changes.startup and session.running:
            session._run_startup_handlers(changes.startup)

    def _rebind(self, replaced: dict[int, Any], reloaded: set[str]) -> list[str]:
        """Names that still hold an old object get the new one, as a fresh run would bind them:
        the notebook's (`from shop.items import Item`) and other modules' of the notebook."""
        rebound: list[str] = []
        user_ns = self.session.shell.user_ns
        spaces = [("", user_ns)] + [
            (f"{name}.", t.module.__dict__) for name, t in self._tracked.items() if name not in reloaded
        ]
        for prefix, space in spaces:
            for key, value in list(space.items()):
                new = replaced.get(id(value))
                if new is not None and space.get(key) is value:
                    space[key] = new
                    rebound.append(prefix + key)
                    if space is not user_ns:  # keep that module's copy current: it wasn't reloaded
                        self._tracked[prefix[:-1]].names[key] = new
        return rebound

    def _find_stale(self, old: dict[int, tuple[Any, str]], reloaded: set[str]) -> list[str]:
        """Instances of an old class, and partials of an old function, left in the notebook or
        in a module that wasn't reloaded."""
        messages: list[str] = []
        defined_in = self.session.reloader.defined_in
        spaces = [("", None, self.session.shell.user_ns)] + [
            (f"{name}.", name, t.module.__dict__) for name, t in self._tracked.items() if name not in reloaded
        ]
        for prefix, module_name, space in spaces:
            for key, value in space.items():
                if key.startswith("_"):
                    continue
                made = _made_from(value, old)
                if made is None:
                    continue
                kind, (source, owner) = made
                if module_name is None:
                    cell = defined_in.get(key)
                    fix = f"re-run In [{cell}]" if cell else "re-run the cell that makes it"
                else:
                    fix = f"reload {module_name} too (kernel_ext.reload({module_name!r}))"
                detail = (
                    f"is {kind} {source.__qualname__} made before {owner} was reloaded: it keeps "
                    "the old code" + (" and fields" if kind == "a" else "")
                )
                stale = StaleObject(space, key, value, prefix + key, detail, fix)
                self._stale[(id(space), key)] = stale
                messages.append(stale.message)
        return messages

    def stale_objects(self) -> list[StaleObject]:
        """Values still built from a class that a reload replaced (for warnings and %api check)."""
        for key in [k for k, s in self._stale.items() if not s.still_stale]:
            del self._stale[key]
        return list(self._stale.values())

    # --- reloading on request -----------------------------------------------------------------

    def reload(self, names: Iterable[str], recursive: bool = False) -> Reloaded | None:
        """Reload the named modules (and their submodules), deepest first, and settle."""
        modules: dict[str, types.ModuleType] = {}
        for name in names:
            module = sys.modules.get(name)
            if not isinstance(module, types.ModuleType):
                raise ReloadError(f"{name} is not imported; import it first")
            modules[name] = module
            if recursive:
                prefix = name + "."
                for sub, found in list(sys.modules.items()):
                    if sub.startswith(prefix) and isinstance(found, types.ModuleType):
                        modules[sub] = found
        for name, module in modules.items():  # e.g. an installed package's, asked for by name
            if name not in self._tracked:
                self._tracked[name] = Tracked.of(module)
        self.settle()  # earlier reloads first, so that these are diffed on their own
        reloader = self.session.reloader
        temporary = reloader.snapshot_if_idle()  # %api watch reloads between cells
        try:
            for name in sorted(modules, key=lambda n: -n.count(".")):  # submodules before packages
                reload_module(modules[name])
                _compat.tell_autoreload(self.session.shell, modules[name])
        finally:
            try:
                settled = self.settle()
            finally:
                if temporary:
                    reloader.drop_snapshot()
        return settled

    def reload_files(self, paths: Iterable[str]) -> None:
        """Saved files (from `%api watch`): reload the modules imported from them. A failure is
        reported in the request log and the status card; the previous version keeps serving."""
        wanted = {os.path.realpath(p) for p in paths}
        self.settle()
        names = [
            name
            for name, t in self._tracked.items()
            if os.path.realpath(getattr(t.module, "__file__", "") or "") in wanted
        ]
        session = self.session
        for name in names:
            try:
                self.reload([name])
            except ReloadError as exc:
                session.request_log.write(f"kernel_ext: {exc}")
                session.last_error = str(exc)
                session._notify()
            else:
                if session.last_error and session.last_error.startswith(f"{name}:"):
                    session.last_error = None


def reload_module(module: types.ModuleType) -> None:
    """`importlib.reload`, but all or nothing: a file that doesn't compile is not run, and a
    module that raises while it runs gets its previous namespace back."""
    name = module.__name__
    path = getattr(module, "__file__", None)
    if path and path.endswith(".py"):
        try:
            source = Path(path).read_bytes()
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = f"{exc.filename}:{exc.lineno}" if exc.lineno else str(exc.filename)
            raise ReloadError(
                f"{name}: syntax error at {where}: {exc.msg}; the previous version keeps serving"
            ) from None
        except OSError as exc:
            raise ReloadError(f"{name}: cannot read {path}: {exc.strerror}") from None
    cached = getattr(module, "__cached__", None)
    if cached:  # bytecode is checked by mtime in whole seconds and size: two quick saves of one
        with contextlib.suppress(OSError):  # size would run the first one again
            Path(cached).unlink(missing_ok=True)
    saved = dict(module.__dict__)
    try:
        importlib.reload(module)
    except BaseException as exc:
        module.__dict__.clear()
        module.__dict__.update(saved)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ReloadError(
            f"{name}: reloading raised {type(exc).__name__}: {exc}; the previous version keeps serving"
        ) from None


def _made_from(value: Any, old: dict[int, tuple[Any, str]]) -> tuple[str, tuple[Any, str]] | None:
    """("a", (class, module)) for an instance of an old class; ("a partial of", ...) for a
    `functools.partial` of an old function; None otherwise."""
    found = old.get(id(type(value)))
    if found is not None and isinstance(found[0], type):
        return "a", found
    if isinstance(value, functools.partial):
        found = old.get(id(value.func))
        if found is not None:
            return "a partial of", found
    return None


def _replaceable(old: Any, new: Any) -> bool:
    """What routes and includes hold and a reload makes again: routers, apps, classes,
    functions and wrapped callables (`@lru_cache`, `functools.wraps` decorators)."""
    if isinstance(old, APIRouter):
        return isinstance(new, APIRouter)
    if isinstance(old, Starlette):
        return isinstance(new, Starlette)
    if isinstance(old, type):
        return isinstance(new, type)
    if isinstance(old, (types.FunctionType, functools.partial)) or (
        callable(old) and hasattr(old, "__wrapped__")
    ):
        return callable(new) and not isinstance(new, type)
    return False


def _is_own_file(module: Any) -> bool:
    """A module imported from a source file of the notebook's, not an installed package."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py") or getattr(module, "__spec__", None) is None:
        return False
    if "site-packages" in path or "dist-packages" in path or path.startswith(_OWN_PACKAGE):
        return False
    return not any(path.startswith(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})


def _summary(result: Reloaded, routes: int, rebuilt: int) -> str:
    parts = [f"{routes} include(s) re-pointed"] if routes else []
    if rebuilt:
        parts.append(f"{rebuilt} route(s) rebuilt")
    if result.rebound:
        parts.append("rebound " + ", ".join(result.rebound[:5]) + (" ..." if len(result.rebound) > 5 else ""))
    return f"kernel_ext: reloaded {', '.join(result.modules)}" + (f": {'; '.join(parts)}" if parts else "")
