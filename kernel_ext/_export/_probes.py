"""Statements that try the app rather than build it: requests, asserts, displays.

Each rule returns a short reason, shown when a cell is left out of the export.
"""

from __future__ import annotations

import ast
import builtins
import re

from ._names import Names, chain_root, module_level_nodes

# Importing these marks a name as a probe: they talk to the live server or the notebook UI.
# (httpx alone does not: an app may call other services with it.)
PROBE_MODULES = (
    "kernel_ext",
    "fastapi.testclient",
    "starlette.testclient",
    "IPython",
    "ipywidgets",
    "nbclient",
    "nbformat",
    "jupyter_client",
    "pytest",
)
IPYTHON_NAMES = frozenset({"get_ipython", "display", "In", "Out", "_", "__", "___", "_ih", "_oh"})
_BUILTINS = frozenset(dir(builtins))
_SIDE_EFFECT_BUILTINS = frozenset({"setattr", "delattr", "exec"})
_READ_ONLY_METHODS = frozenset({"openapi", "url_path_for"})
# Notebook housekeeping that would break an app if it ran at import: teardown, cache resets.
_TEARDOWN_METHODS = frozenset(
    {
        "drop_all",
        "dispose",
        "cleanup",
        "close",
        "shutdown",
        "cache_clear",
        "unlink",
        "rmdir",
        "terminate",
        "kill",
    }
)
_NOT_AT_IMPORT = frozenset(
    {
        "time.sleep",
        "asyncio.sleep",
        "asyncio.run",
        "os.remove",
        "os.unlink",
        "os.rmdir",
        "os.removedirs",
        "shutil.rmtree",
        "pprint.pprint",
        "gc.collect",
    }
)
_FILE_WRITES = frozenset({"write_text", "write_bytes"})
_LOCAL_URL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])[:/]")
_REQUEST_CALLS = frozenset(
    {
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "request",
        "stream",
        "Client",
        "AsyncClient",
        "urlopen",
        "connect",
        "websocket_connect",
        "Request",
    }
)
_ENV_CHAINS = ("os.environ", "environ", "os.putenv", "os.unsetenv")


def probe_names_of_import(stmt: ast.Import | ast.ImportFrom) -> set[str]:
    names = set()
    for alias in stmt.names:
        origin = alias.name if isinstance(stmt, ast.Import) else f"{stmt.module or ''}.{alias.name}"
        if any(origin == m or origin.startswith(m + ".") for m in PROBE_MODULES):
            names.add(alias.asname or alias.name.split(".")[0])
    return names


def probe_reason(stmt: ast.stmt, names: Names, tainted: set[str], procedures: dict[str, bool]) -> str | None:
    """Why `stmt` is a probe, or None when it may build the app.

    `tainted`: names bound by earlier probes. `procedures`: notebook functions seen so far,
    True for those a top-level call runs for their effect (they return nothing, assert nothing).
    """
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return None  # kept when, and only when, exported code uses what it imports
    if isinstance(stmt, ast.Assert):
        return "an assert"
    if names.top_level_await:
        return "top-level await"
    if isinstance(stmt, ast.Delete):
        return "it deletes names"
    if "get_ipython" in names.uses:
        return _ipython_reason(stmt)
    # A route or handler that calls a probe name when it runs is an error, reported later;
    # a plain helper function that does is a probe helper.
    reads = names.eager if _registers(stmt, names) else names.uses
    used = sorted(reads & (tainted | IPYTHON_NAMES))
    if used:
        return f"it uses {used[0]}"
    if _calls_local_server(stmt):
        return "it calls the live server"
    if _changes_environment(stmt):
        return "it changes the environment (settings come from the deployment's)"
    if _overrides_dependencies(stmt):
        return "it sets dependency_overrides (a test setup)"
    if isinstance(stmt, ast.Expr):
        return _expression_reason(stmt.value, procedures)
    return None


def tries_the_app(stmt: ast.stmt, names: Names, tainted: set[str]) -> str | None:
    """What the statement does to exercise the live app, if it does: a request to the live
    server, or a use of kernel_ext, a test client, the explorer or what such a probe bound.
    (An assert alone does not: a build cell may check what it just built.)"""
    reads = names.eager if _registers(stmt, names) else names.uses
    used = sorted(reads & tainted)
    if used:
        return f"uses {used[0]}"
    return "calls the live server" if _calls_local_server(stmt) else None


def _registers(stmt: ast.stmt, names: Names) -> bool:
    return bool(names.mutates) and isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)


def _ipython_reason(stmt: ast.stmt) -> str:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            first = node.args[0] if node.args else None
            magic = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else "?"
            if node.func.attr == "run_line_magic":
                return "help" if magic in ("pinfo", "pinfo2") else f"the %{magic} magic"
            if node.func.attr == "run_cell_magic":
                return f"the %%{magic} cell magic"
            if node.func.attr in ("system", "getoutput"):
                return "a shell command"
    return "it uses get_ipython"


def _expression_reason(value: ast.expr, procedures: dict[str, bool]) -> str | None:
    if not isinstance(value, ast.Call):
        return "it displays a value"
    func = value.func
    if isinstance(func, ast.Name):
        if func.id in procedures:
            return None if procedures[func.id] else f"it calls {func.id}() for its result"
        if func.id in _BUILTINS and func.id not in _SIDE_EFFECT_BUILTINS:
            return f"it calls {func.id}()"
    if isinstance(func, ast.Attribute):
        if func.attr in _READ_ONLY_METHODS:
            return f"it displays .{func.attr}()"
        if func.attr in _TEARDOWN_METHODS:
            return f"it cleans up (.{func.attr}())"
        if ast.unparse(func) in _NOT_AT_IMPORT:
            return f"it calls {ast.unparse(func)}()"
    return None


def writes_env_file(stmt: ast.stmt, env_paths: set[str]) -> bool:
    """`env_file.write_text(...)` where env_file names a .env file: configuration, not app."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    if not (isinstance(func, ast.Attribute) and func.attr in _FILE_WRITES):
        return False
    root = chain_root(func.value)
    return (root in env_paths) or mentions_env_file(func.value)


def mentions_env_file(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith(".env")
        for n in ast.walk(node)
    )


def is_procedure(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function a notebook calls for its effect, like `init_db()`: no result, no assert."""
    for child in ast.walk(node):
        if isinstance(child, ast.Return) and child.value is not None:
            return False
        if isinstance(child, ast.Yield | ast.YieldFrom | ast.Assert):
            return False
    return not isinstance(node, ast.AsyncFunctionDef)


def _calls_local_server(stmt: ast.stmt) -> bool:
    """A request to a literal localhost URL, e.g. `httpx.get("http://127.0.0.1:8000/items")`."""
    for node in module_level_nodes(stmt):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _REQUEST_CALLS and _LOCAL_URL.match(_leading_text(node.args[0])):
            return True
    return False


def _leading_text(node: ast.expr) -> str:
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _changes_environment(stmt: ast.stmt) -> bool:
    for node in module_level_nodes(stmt):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call):
            targets = [node.func]
            if isinstance(node.func, ast.Name) and node.func.id == "load_dotenv":
                return True
        for target in targets:
            text = ast.unparse(target)
            if any(text == c or text.startswith(c + ".") or text.startswith(c + "[") for c in _ENV_CHAINS):
                if isinstance(node, ast.Call) and text.endswith(
                    (".get", ".copy", ".items", ".keys", ".values")
                ):
                    continue
                return True
    return False


def _overrides_dependencies(stmt: ast.stmt) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "dependency_overrides"
        and chain_root(node) is not None
        for node in module_level_nodes(stmt)
    )
