"""Reading the names a cell can rebind: never fewer than it binds; "anything" when unknowable."""

from __future__ import annotations

import ast

import pytest

from kernel_ext._reload._boundnames import NameWatch, read_cell
from tests.support.shell import Shell


def names(code: str) -> set[str] | None:
    return read_cell(ast.parse(code)).names


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = 1", {"x"}),
        ("a, (b, *c) = 1, (2, 3)", {"a", "b", "c"}),
        ("x += 1\ny: int = 2\nz: int", {"x", "y", "z"}),
        ("def f(): pass\nasync def g(): pass\nclass C: pass", {"f", "g", "C"}),
        ("import os.path, json as j\nfrom x import y as z, w", {"os", "j", "z", "w"}),
        ("for i in range(3): pass\nwith open('f') as fh: pass", {"i", "fh"}),
        ("try:\n    pass\nexcept ValueError as err:\n    pass", {"err"}),
        ("[(n := k) for k in range(2)]", {"n", "k"}),
        ("del x", {"x"}),
        (
            "match p:\n    case {'a': a, **rest}: pass\n    case [first, *others]: pass",
            {"a", "rest", "first", "others"},
        ),
        ("@app.get('/x')\ndef read_x(): return 1", {"read_x"}),
    ],
)
def test_names_a_cell_binds(code: str, expected: set[str]) -> None:
    assert expected <= names(code)  # type: ignore[operator]


@pytest.mark.parametrize(
    "code",
    [
        "exec('x = 1')",
        "globals()['x'] = 1",
        "vars().update(x=1)",
        "eval('(x := 1)')",
        "get_ipython().run_line_magic('run', 'script.py')",
        "from os import *",
        "import __main__\n__main__.x = 1",
        "import sys\nsys.modules['__main__'].x = 1",
        "f.__globals__['x'] = 1",
        "ip.user_ns['x'] = 1",
    ],
)
def test_code_that_binds_names_it_does_not_spell_is_anything(code: str) -> None:
    assert names(code) is None


def test_global_in_a_function_counts_for_later_cells() -> None:
    code = read_cell(ast.parse("def setup():\n    global app\n    app = 1"))
    assert code.later == {"app"} and "app" in code.names  # type: ignore[operator]
    assert not code.later_anything
    assert read_cell(ast.parse("def f():\n    globals()['x'] = 1")).later_anything
    # A handle on the namespace kept in a variable counts for later cells; one only used doesn't.
    for kept in (
        "ns = globals()",
        "ns = get_ipython().user_ns",
        "ip = get_ipython()",
        "import __main__",
        "g = f.__globals__",
        "(ns := vars())",
    ):
        assert read_cell(ast.parse(kept)).later_anything, kept
    for used in ("exec('x = 1', globals())", "del globals()['x']", "globals()['x'] = 1", "print(vars())"):
        code = read_cell(ast.parse(used))
        assert code.names is None and not code.later_anything, used


def test_watch_returns_the_tree_and_survives_its_own_failure() -> None:
    seen = []
    tree = ast.parse("x = 1")
    assert NameWatch(seen.append).visit(tree) is tree
    assert seen[0].names == {"x"}
    assert NameWatch(seen.append).visit("not a tree") == "not a tree"  # type: ignore[arg-type]
    assert seen[1].names is None


# --- in a real shell: every way of rebinding a dependency is still seen ----------------------

APP = "from fastapi import FastAPI, Depends\napp = FastAPI()"
ROUTE = "@app.get('/d')\ndef r(v=Depends(dep)): return v"


SETUP = "def setup():\n    global dep\n    def dep(): return 'v2'"
SETUP_ANYTHING = "def run_setup_anything():\n    globals()['dep'] = lambda: 'v2'"


@pytest.mark.parametrize(
    ("earlier", "rebind"),
    [
        ("", "def dep(): return 'v2'"),
        ("", "exec(\"def dep(): return 'v2'\")"),
        ("", "globals()['dep'] = lambda: 'v2'"),
        (SETUP, "setup()"),  # a function from an earlier cell, with `global dep`
        (SETUP_ANYTHING, "run_setup_anything()"),  # one that uses globals()
        ("ns = globals()", "ns['dep'] = lambda: 'v2'"),  # the namespace, kept by an earlier cell
        ("ip = get_ipython()\nuser_ns = ip.user_ns", "user_ns['dep'] = lambda: 'v2'"),
        ("", "%time dep = lambda: 'v2'"),
    ],
    ids=[
        "def",
        "exec",
        "globals",
        "global-in-function",
        "function-using-globals",
        "alias",
        "user_ns",
        "magic",
    ],
)
def test_rebinding_a_dependency_in_any_way_reaches_the_route(shell: Shell, earlier: str, rebind: str) -> None:
    shell.ok(APP)
    shell.ok(earlier or "pass")
    shell.ok("def dep(): return 'v1'")
    shell.ok(ROUTE)
    assert shell.get("/d").json() == "v1"
    shell.ok(rebind)
    assert shell.get("/d").json() == "v2"


def test_a_cleared_transformer_list_is_refilled(shell: Shell) -> None:
    shell.ok(APP + "\ndef dep(): return 'v1'\n" + ROUTE)
    shell.ip.ast_transformers.clear()
    shell.ok("def dep(): return 'v2'")  # the hook puts the watch back before this cell runs
    assert shell.get("/d").json() == "v2"


def test_unload_removes_the_watch(shell: Shell) -> None:
    watch = shell.session.name_watch
    assert watch in shell.ip.ast_transformers
    shell.ok("%unload_ext kernel_ext")
    assert watch not in shell.ip.ast_transformers
    shell.ok("%load_ext kernel_ext")
