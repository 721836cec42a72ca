"""What gets exported: probes out, hot-reload history collapsed, what the app needs kept."""

from __future__ import annotations

import ast

import pytest

from kernel_ext._export import Cell, ExportError
from kernel_ext._export._cells import as_cells
from kernel_ext._export._plan import Plan, make_plan

SETUP = "%load_ext kernel_ext"
APP = "from fastapi import FastAPI\n\napp = FastAPI()"
CLIENT = "import httpx\nimport kernel_ext\n\nclient = httpx.Client(base_url=kernel_ext.base_url())"


def plan(*cells: str | tuple[str, list[str]] | Cell) -> Plan:
    return make_plan(as_cells(cells))


def code(result: Plan) -> str:
    """The kept statements, imports included, in run order."""
    return "\n".join(ast.unparse(s.node) for s in result.statements)


def body(result: Plan) -> list[str]:
    """First lines of the kept non-import statements, in run order."""
    return [ast.unparse(s.node).splitlines()[0] for s in result.statements if not s.is_import]


def reasons(result: Plan) -> dict[str, str]:
    return {d.label: d.reason for d in result.cells}


def test_probes_magics_and_asserts_are_left_out() -> None:
    result = plan(
        SETUP,
        CLIENT,
        APP,
        "@app.get('/items')\ndef items():\n    return [1]",
        "r = client.get('/items')\nassert r.status_code == 200\nr.json()",
        "%api routes",
        "kernel_ext.explore()",
        "print(app.routes)",
        "app.openapi()",
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/items')"]
    assert reasons(result) == {
        "cell 1": "a probe: the %load_ext magic",
        "cell 2": "a probe: it uses kernel_ext",
        "cell 3": "exported",
        "cell 4": "exported",
        "cell 5": "a probe: it uses client",
        "cell 6": "a probe: the %api magic",
        "cell 7": "a probe: it uses kernel_ext",
        "cell 8": "a probe: it calls print()",
        "cell 9": "a probe: it displays .openapi()",
    }
    assert "httpx" not in code(result) and "kernel_ext" not in code(result)


def test_a_cell_that_defines_and_probes_keeps_only_the_definition() -> None:
    result = plan(
        CLIENT,
        APP + "\n\n@app.get('/')\ndef root():\n    return 'hi'\n\n"
        "assert client.get('/').json() == 'hi'\nclient.get('/')",
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/')"]


def test_what_a_probe_cell_does_stays_in_the_notebook() -> None:
    """A cell that tries the live app: its calls and in-place changes are not exported."""
    result = plan(
        SETUP,
        CLIENT,
        APP + "\nimport threading, logging\nfrom pathlib import Path\nLOG_FILE = Path('log.txt')\n"
        "logger = logging.getLogger('app')\nevents = []\nrelease = threading.Event()",
        "@app.post('/slow')\ndef slow():\n    release.wait(1)\n    events.append('slow')\n"
        "    logger.info('slow')\n    return LOG_FILE.read_text()",
        "r = client.post('/slow')\nassert r.status_code == 200\nrelease.set()\nLOG_FILE.write_text('')",
        "events.clear()\nkernel_ext.restart()\nassert events == []",
        "logger.warning('from a cell')\nfor n in range(2):\n    client.get('/')",
    )
    assert body(result) == [
        "app = FastAPI()",
        "LOG_FILE = Path('log.txt')",
        "logger = logging.getLogger('app')",
        "events = []",
        "release = threading.Event()",
        "@app.post('/slow')",
    ]
    assert reasons(result)["cell 5"] == "a probe: it uses client"
    assert reasons(result)["cell 6"] == "a probe: the cell also uses kernel_ext"
    assert reasons(result)["cell 7"] == "a probe: the cell also uses client"


def test_definitions_in_a_probe_cell_are_kept_when_the_app_needs_them() -> None:
    """A live edit next to a probe (`before = ex.values` then a new route) is still the app."""
    result = plan(
        CLIENT,
        APP + "\n\n@app.get('/v')\ndef v():\n    return 1",
        "before = client.get('/v').json()\nLIMIT = 2\n\n@app.get('/v')\ndef v():\n    return LIMIT\n\n"
        "app.include_router(router)\nseed()",
        "from fastapi import APIRouter\nrouter = APIRouter()\n\ndef seed():\n    pass",
    )
    assert body(result) == [
        "app = FastAPI()",
        "@app.get('/v')",  # the latest version, in the place of the first
        "LIMIT = 2",
        "router = APIRouter()",
        "app.include_router(router)",
    ]


def test_a_cell_that_only_asserts_keeps_what_it_builds() -> None:
    """A sanity check next to the code it checks is not a probe of the live app."""
    result = plan(
        APP + "\nfrom sqlalchemy import create_engine, inspect\nengine = create_engine('sqlite:///./a.db')\n"
        "if engine.dialect.name == 'postgresql':\n    engine = create_engine('postgresql+psycopg://')\n"
        "assert engine.dialect.name == 'sqlite'",
        "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass",
        "Base.metadata.create_all(engine)\nassert inspect(engine).has_table('users')",
        "@app.get('/n')\ndef n():\n    return [engine.url.database, Base.metadata.tables]",
    )
    assert "Base.metadata.create_all(engine)" in body(result)
    assert "if engine.dialect.name == 'postgresql':" in body(result)
    assert not any(line.startswith("assert") for line in body(result))


def test_a_probe_cell_marked_export_is_exported_whole() -> None:
    cells = [
        APP + "\nimport threading\nrelease = threading.Event()\n\n@app.get('/w')\ndef w():\n"
        "    return release.wait(0)",
        "release.set()\nimport httpx\nhttpx.get('http://127.0.0.1:8000/w')",
    ]
    assert "release.set()" not in body(plan(*cells))
    assert "release.set()" in body(plan(cells[0], "# kernel_ext: export\n" + cells[1]))


def test_unused_imports_are_pruned() -> None:
    result = plan("import json, os\nfrom fastapi import FastAPI, Query\n\napp = FastAPI()")
    assert code(result).splitlines()[0] == "from fastapi import FastAPI, Query"
    kept = [s for s in result.statements if s.is_import]
    aliases = [a.name for s in kept for a in s.node.names if result.alias_needed(s, a)]
    assert aliases == ["FastAPI"]


def test_environment_changes_and_test_overrides_are_left_out() -> None:
    result = plan(
        "import os\nos.environ['APP_NAME'] = 'demo'\nos.environ.setdefault('X', '1')",
        APP,
        "def fake():\n    return 1\n\napp.dependency_overrides[fake] = fake",
        "from dotenv import load_dotenv\nload_dotenv()",
    )
    assert body(result) == ["app = FastAPI()"]
    assert reasons(result)["cell 1"].endswith(
        "it changes the environment (settings come from the deployment's)"
    )
    assert reasons(result)["cell 3"] == "a probe: it sets dependency_overrides (a test setup)"


def test_a_redefined_route_keeps_only_the_latest_version_in_the_first_place() -> None:
    result = plan(
        APP,
        "@app.get('/a')\ndef a():\n    return 1",
        "@app.get('/b')\ndef b():\n    return 2",
        "@app.get('/a')\ndef a():\n    return 3",
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/a')", "@app.get('/b')"]
    assert "return 3" in code(result) and "return 1" not in code(result)
    assert reasons(result)["cell 2"] == "replaced by a later definition"


def test_same_function_name_on_two_paths_keeps_both() -> None:
    result = plan(
        APP, "@app.get('/a')\ndef read():\n    return 1", "@app.get('/b')\ndef read():\n    return 2"
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/a')", "@app.get('/b')"]


def test_same_path_on_two_routers_keeps_both() -> None:
    result = plan(
        APP + "\nfrom fastapi import APIRouter",
        "router = APIRouter(prefix='/items')\n\n@router.get('/')\ndef items():\n    return []\n\n"
        "app.include_router(router)",
        "router = APIRouter(prefix='/users')\n\n@router.get('/')\ndef users():\n    return []\n\n"
        "app.include_router(router)",
    )
    assert body(result) == [
        "app = FastAPI()",
        "router = APIRouter(prefix='/items')",
        "@router.get('/')",
        "app.include_router(router)",
        "router = APIRouter(prefix='/users')",
        "@router.get('/')",
        "app.include_router(router)",
    ]


def test_a_redefined_model_replaces_the_first_one_for_routes_in_between() -> None:
    result = plan(
        APP + "\nfrom pydantic import BaseModel",
        "class Item(BaseModel):\n    name: str",
        "@app.post('/items')\ndef create(item: Item) -> Item:\n    return item",
        "class Tag(BaseModel):\n    label: str",
        "class Item(BaseModel):\n    name: str\n    tags: list[Tag] = []",
    )
    # Item v2 needs Tag, so it runs after Tag, and the route after Item v2.
    assert body(result) == [
        "app = FastAPI()",
        "class Tag(BaseModel):",
        "class Item(BaseModel):",
        "@app.post('/items')",
    ]
    assert "tags: list[Tag]" in code(result)
    assert code(result).count("class Item") == 1


def test_a_redefined_dependency_and_middleware_keep_their_latest_version() -> None:
    result = plan(
        APP + "\nfrom fastapi import Depends",
        "def common(q: str = ''):\n    return {'q': q}",
        "@app.get('/x')\ndef x(c: dict = Depends(common)):\n    return c",
        "@app.middleware('http')\nasync def tag(request, call_next):\n    return await call_next(request)",
        "def common(q: str = '', limit: int = 10):\n    return {'q': q, 'limit': limit}",
        "@app.middleware('http')\nasync def tag(request, call_next):\n"
        "    response = await call_next(request)\n    response.headers['x'] = '2'\n    return response",
    )
    assert body(result) == [
        "app = FastAPI()",
        "def common(q: str='', limit: int=10):",
        "@app.get('/x')",
        "@app.middleware('http')",
    ]
    assert "headers['x'] = '2'" in code(result)


def test_a_new_app_drops_what_was_registered_on_the_old_one() -> None:
    result = plan(
        APP, "@app.get('/old')\ndef old():\n    return 1", APP, "@app.get('/new')\ndef new():\n    return 2"
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/new')"]


def test_routes_added_to_a_router_after_include_are_kept() -> None:
    result = plan(
        APP + "\nfrom fastapi import APIRouter\nrouter = APIRouter()\napp.include_router(router)",
        "@router.get('/late')\ndef late():\n    return 1",
    )
    assert "@router.get('/late')" in body(result)


def test_setup_calls_are_kept_and_calls_for_a_result_are_not() -> None:
    result = plan(
        APP,
        "db = {}\n\ndef seed():\n    db['a'] = 1\n\ndef lookup(key):\n    return db[key]\n\n"
        "seed()\nlookup('a')",
        "@app.get('/a')\ndef a():\n    return lookup('a')",
    )
    assert body(result) == [
        "app = FastAPI()",
        "db = {}",
        "def seed():",
        "def lookup(key):",
        "seed()",
        "@app.get('/a')",
    ]


def test_mutations_of_what_the_app_uses_are_kept_in_place() -> None:
    result = plan(
        APP + "\nitems = {}",
        "@app.get('/items')\ndef all_items():\n    return items",
        "items['a'] = 1\nitems.update(b=2)\nunused = {}\nunused['x'] = 1",
    )
    assert body(result)[-2:] == ["items['a'] = 1", "items.update(b=2)"]


def test_late_bound_helpers_defined_after_the_route_are_kept() -> None:
    result = plan(APP, "@app.get('/h')\ndef h():\n    return helper()", "def helper():\n    return 1")
    assert body(result) == ["app = FastAPI()", "@app.get('/h')", "def helper():"]


def test_overrides_skip_and_export() -> None:
    result = plan(
        APP,
        ("@app.get('/hidden')\ndef hidden():\n    return 1", ["kernel_ext:skip"]),
        "# kernel_ext: export\nimport logging\nlogging.basicConfig(level=logging.INFO)",
    )
    assert body(result) == ["app = FastAPI()", "logging.basicConfig(level=logging.INFO)"]
    assert reasons(result)["cell 2"] == "marked kernel_ext: skip"


def test_a_cell_run_again_counts_once_at_its_first_place() -> None:
    """`%api export` history: the same cell id run twice, its route moved from /a to /b."""
    result = plan(
        Cell(APP, label="In [1]", cell_id="c1"),
        Cell("@app.get('/a')\ndef r():\n    return 1", label="In [2]", cell_id="c2"),
        Cell("@app.get('/z')\ndef z():\n    return 0", label="In [3]", cell_id="c3"),
        Cell("@app.get('/b')\ndef r():\n    return 2", label="In [4]", cell_id="c2"),
        Cell("1/0", label="In [5]", failed=True),
    )
    assert body(result) == ["app = FastAPI()", "@app.get('/b')", "@app.get('/z')"]
    assert reasons(result)["In [2]"] == "run again later: the latest run is exported"
    assert reasons(result)["In [5]"] == "it raised when it ran"


def test_a_name_defined_only_in_a_skipped_cell_is_an_error_naming_both_cells() -> None:
    with pytest.raises(ExportError) as caught:
        plan(
            APP,
            ("def helper():\n    return 1", ["kernel_ext:skip"]),
            "@app.get('/h')\ndef h():\n    return helper()",
        )
    assert str(caught.value) == (
        "cell 3 (`@app.get('/h')`) uses `helper`, which is defined only in cell 2 "
        "(`def helper():`), which is skipped (marked kernel_ext: skip). Mark that cell "
        "`# kernel_ext: export`, or move the definition into an exported cell."
    )


def test_a_name_defined_only_in_a_probe_is_an_error() -> None:
    with pytest.raises(
        ExportError,
        match=r"cell 3 .* uses `client`, which is defined only in "
        r"cell 2 .*, which is a probe \(it uses kernel_ext\)",
    ):
        plan(APP, CLIENT, "@app.get('/proxy')\ndef proxy():\n    return client.get('/x').json()")


def test_ipython_only_names_are_an_error() -> None:
    with pytest.raises(ExportError, match="uses `display`, which exists only inside IPython"):
        plan(APP, "@app.get('/d')\ndef d():\n    display('x')\n    return 1")


def test_no_app_is_an_error() -> None:
    with pytest.raises(ExportError, match="no cell defines `app`"):
        plan("x = 1")
    with pytest.raises(ExportError, match="`app` is defined only in cell 1"):
        plan((APP, ["kernel_ext:skip"]))


def test_an_undefined_name_read_at_import_is_an_error_and_in_a_body_a_warning() -> None:
    with pytest.raises(ExportError, match="uses `Missing`, which no cell defines"):
        plan(APP, "@app.get('/m')\ndef m(x: Missing):\n    return x")
    result = plan(APP, "@app.get('/m')\ndef m():\n    return missing()")
    assert result.warnings == [
        "cell 2 (`@app.get('/m')`) uses `missing`, which no cell defines (a NameError when run)."
    ]


def test_another_app_name() -> None:
    result = make_plan(as_cells(["from fastapi import FastAPI\napi = FastAPI()"]), app_name="api")
    assert body(result) == ["api = FastAPI()"]


def test_teardown_and_env_file_writes_are_left_out() -> None:
    result = plan(
        "import tempfile\nfrom pathlib import Path\n\nfolder = tempfile.TemporaryDirectory()\n"
        "env_file = Path(folder.name) / '.env'\nenv_file.write_text('ADMIN_EMAIL=a@b.c')",
        "from functools import lru_cache\nfrom fastapi import FastAPI, Depends\n"
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n"
        "class Settings(BaseSettings):\n    admin_email: str\n"
        "    model_config = SettingsConfigDict(env_file=env_file)\n\n"
        "@lru_cache\ndef get_settings():\n    return Settings()\n\napp = FastAPI()\n\n"
        "@app.get('/info')\ndef info(s: Settings = Depends(get_settings)):\n    return s",
        "get_settings.cache_clear()",
        "import time\ntime.sleep(0.1)\nfolder.cleanup()",
    )
    assert body(result) == [
        "folder = tempfile.TemporaryDirectory()",
        "env_file = Path(folder.name) / '.env'",
        "class Settings(BaseSettings):",
        "@lru_cache",
        "app = FastAPI()",
        "@app.get('/info')",
    ]
    assert reasons(result)["cell 3"] == "a probe: it cleans up (.cache_clear())"
