"""What a user sees and clicks in JupyterLab: run the quickstart, use the explorer, edit a route, open /docs.

One test, four steps, one screenshot each in tests/e2e/screenshots/. The notebooks run from a
temporary copy. Swagger UI's script and stylesheet normally come from a CDN, which this machine
cannot reach: the browser gets the same files from the fastapi-offline package instead.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Budget, Lab, unavailable

pytestmark = pytest.mark.e2e

QUICKSTART = "00_quickstart.ipynb"
EXPLORER = "01_explorer.ipynb"
OPEN_TIMEOUT = 120_000  # ms: JupyterLab's front end and a kernel start, on a loaded box
RUN_TIMEOUT = 180_000  # ms for a whole notebook; 15-40 s when the box is quiet
UI_TIMEOUT = 60_000  # ms for a click to show its effect (a kernel round trip under load)
EDITED_ROUTE = """\
@app.get("/items/{item_id}", tags=["items"])
def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q, "edited": "in the browser"}
"""

# The notebook model (window.jupyterapp, from --LabApp.expose_app_in_browser) tells errors and
# cells that never ran apart from what happens to be on screen.
NOTEBOOK_READY = """(path) => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path || !panel.context.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
}"""
CELLS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    const code = cell.type === 'code';
    out.push({
      index: i,
      code: code,
      source: cell.sharedModel.getSource(),
      tags: cell.getMetadata('tags') || [],
      count: code ? cell.executionCount : null,
      errors: code
        ? cell.outputs.toJSON().filter(o => o.output_type === 'error').map(o => [
            o.ename + ': ' + o.evalue,
            // IPython marks the failing line with an arrow: enough to see what failed.
            ...o.traceback.join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '').split('\\n').filter(l => l.includes('---->')),
          ].join('\\n'))
        : [],
    });
  }
  return {id: panel.id, cells: out};
}"""
# Every code cell ran (the copies start without execution counts), none is queued, kernel idle.
RUN_FINISHED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  let started = false;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.executionState === 'running') return false;
    started = started || cell.executionCount !== null;
  }
  return started && panel.sessionContext.session.kernel.status === 'idle';
}"""
CELL_RERUN = """([index, before]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.model.cells.get(index);
  return cell.executionCount !== null && cell.executionCount !== before
    && cell.executionState === 'idle' && panel.sessionContext.session.kernel.status === 'idle';
}"""


def test_jupyterlab_end_to_end(lab: Lab, page: Any, budget: Budget, screenshots: Path) -> None:
    offline_swagger_ui(page)
    try:
        step1_quickstart(page, lab, budget, screenshots / "1_quickstart_status_card.png")
        step2_explorer_send(page, budget, screenshots / "2_explorer_send_200.png")
        step3_edit_route(
            page, budget, screenshots / "3a_route_cell_edited.png", screenshots / "3b_send_new_body.png"
        )
        step4_docs(page, budget, screenshots / "4_swagger_ui_docs.png")
    except BaseException:
        with contextlib.suppress(Exception):  # a hung browser must not hide the first error
            page.screenshot(path=str(screenshots / "failure.png"), timeout=10_000)
        print(f"JupyterLab's log ends:\n{lab.log_tail()}")
        raise


def step1_quickstart(page: Any, lab: Lab, budget: Budget, shot: Path) -> None:
    """Open the quickstart, Run → Run All Cells: every cell runs, none fails, the status card shows."""
    page.goto(lab.tree(QUICKSTART), timeout=budget.ms(OPEN_TIMEOUT))
    wait_notebook_ready(page, budget, QUICKSTART)
    run_all(page, budget)
    state = notebook_state(page)
    assert_all_ran(state)
    card = notebook(page, state).locator(".kernel-ext-status").last
    card.scroll_into_view_if_needed()
    text = card.inner_text()
    assert "running" in text, text
    assert re.search(r"routes\s+4\b", text), text
    href = card.locator("a[href$='/docs']").get_attribute("href")
    assert re.fullmatch(r"/proxy/\d+/docs", href or ""), href  # through jupyter-server-proxy
    assert href in text  # shown as plain text too, where a link cannot be opened
    page.screenshot(path=str(shot))


def step2_explorer_send(page: Any, budget: Budget, shot: Path) -> None:
    """In the explorer notebook: pick GET /items/{item_id}, type item_id and q, click Send."""
    page.locator(".jp-DirListing-item", has_text=EXPLORER).first.dblclick()
    wait_notebook_ready(page, budget, EXPLORER)
    run_all(page, budget)
    state = notebook_state(page)
    assert_all_ran(state, allowed=lambda cell: "raises-exception" in cell["tags"])
    explorer = explorer_widget(page, state)
    explorer.scroll_into_view_if_needed()
    picker = explorer.locator("select").first
    option = picker.locator("option", has_text=re.compile(r"GET\s+/items/\{item_id\}")).first
    picker.select_option(option.get_attribute("value"))
    fill_param(explorer, "item_id", "42")
    fill_param(explorer, "q", "typed in Chromium")
    send_button(explorer).click()
    body = wait_response(explorer, budget, "200 OK", '"item_id": 42', '"q": "typed in Chromium"')
    assert '"edited"' not in body, body
    page.screenshot(path=str(shot))


def step3_edit_route(page: Any, budget: Budget, edited_shot: Path, shot: Path) -> None:
    """Retype the live-edit route cell in CodeMirror, Shift+Enter, Send again: the new body shows."""
    state = notebook_state(page)
    index = cell_index(state, "def read_item", "verbose: bool = False")  # the live-edit cell
    before = state["cells"][index]["count"]
    editor = notebook(page, state).locator(".jp-Cell").nth(index).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(EDITED_ROUTE)  # as a paste does: no auto-indent or bracket closing
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(CELL_RERUN, arg=[index, before], timeout=budget.ms(UI_TIMEOUT), polling=250)
    cell = notebook_state(page)["cells"][index]
    assert cell["source"].strip() == EDITED_ROUTE.strip(), cell["source"]
    assert not cell["errors"], cell["errors"]
    editor.scroll_into_view_if_needed()
    page.screenshot(path=str(edited_shot))
    explorer = explorer_widget(page, state)
    explorer.scroll_into_view_if_needed()
    send_button(explorer).click()
    body = wait_response(explorer, budget, "200 OK", '"edited": "in the browser"', '"item_id": 42')
    assert '"limit"' not in body, body  # the replaced endpoint answered with a limit
    page.screenshot(path=str(shot))


def step4_docs(page: Any, budget: Budget, shot: Path) -> None:
    """Back in the quickstart, click the status card's /docs link: Swagger UI lists the live routes."""
    page.locator(".lm-TabBar-tab", has_text=QUICKSTART).first.click()
    wait_notebook_ready(page, budget, QUICKSTART)
    state = notebook_state(page)
    link = notebook(page, state).locator(".kernel-ext-status").last.locator("a[href$='/docs']")
    link.scroll_into_view_if_needed()
    with page.context.expect_page(timeout=budget.ms(UI_TIMEOUT)) as opened:
        link.click()  # target=_blank: a new tab
    docs = opened.value
    docs.wait_for_selector(".opblock", timeout=budget.ms(UI_TIMEOUT))
    assert re.search(r"/proxy/\d+/docs$", docs.url), docs.url
    methods = docs.locator(".opblock .opblock-summary-method").all_inner_texts()
    paths = docs.locator(".opblock .opblock-summary-path").evaluate_all(
        "els => els.map(e => e.getAttribute('data-path') || e.innerText)"
    )
    shown = set(zip(methods, paths, strict=True))
    live = {("GET", "/"), ("POST", "/items/{item_id}"), ("GET", "/items/{item_id}"), ("GET", "/items/")}
    assert shown >= live, shown
    assert "Quickstart" in docs.locator(".info .title").inner_text()
    docs.screenshot(path=str(shot), full_page=True)


# --- helpers ----------------------------------------------------------------------------------


def wait_notebook_ready(page: Any, budget: Budget, path: str) -> None:
    page.wait_for_function(NOTEBOOK_READY, arg=path, timeout=budget.ms(OPEN_TIMEOUT), polling=250)


def notebook_state(page: Any) -> dict[str, Any]:
    return page.evaluate(CELLS)


def notebook(page: Any, state: dict[str, Any]) -> Any:
    """The open notebook's panel (the other notebook's panel stays in the page, hidden)."""
    return page.locator(f"[id='{state['id']}']")


def run_all(page: Any, budget: Budget) -> None:
    """Run → Run All Cells from the menu bar, then wait until every cell has run."""
    item = page.locator(".lm-Menu-item[data-command='runmenu:run-all']")
    for _attempt in range(3):  # a click while the shell is still laying out may open nothing
        page.locator("li.lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        try:
            item.wait_for(state="visible", timeout=budget.ms(10_000))
        except Exception:
            page.keyboard.press("Escape")
            continue
        item.click()
        break
    else:
        pytest.fail("the Run menu did not open")
    page.wait_for_function(RUN_FINISHED, timeout=budget.ms(RUN_TIMEOUT), polling=500)


def assert_all_ran(
    state: dict[str, Any], allowed: Callable[[dict[str, Any]], bool] = lambda c: False
) -> None:
    code = [c for c in state["cells"] if c["code"]]
    errors = [(c["source"][:70], c["errors"]) for c in code if c["errors"] and not allowed(c)]
    unrun = [c["source"][:70] for c in code if c["count"] is None]
    assert not errors, f"error outputs: {errors}"
    assert not unrun, f"cells that did not run: {unrun}"


def cell_index(state: dict[str, Any], *needles: str) -> int:
    for cell in state["cells"]:
        if cell["code"] and all(needle in cell["source"] for needle in needles):
            return cell["index"]
    raise AssertionError(f"no code cell holds {needles}")


def explorer_widget(page: Any, state: dict[str, Any]) -> Any:
    """The explorer under `ex = kernel_ext.explore()` (all of its views share one model)."""
    index = cell_index(state, "kernel_ext.explore()")
    output = notebook(page, state).locator(".jp-Cell").nth(index).locator(".jp-OutputArea-output")
    return output.locator(".widget-vbox").first


def fill_param(explorer: Any, name: str, value: str) -> None:
    row = explorer.locator(".widget-hbox", has=explorer.page.locator(f"code:text-is('{name}')")).last
    field = row.locator("input[type='text'], input[type='number']").first
    field.fill(value)
    field.press("Tab")  # an IntText sends its value when it loses focus


def send_button(explorer: Any) -> Any:
    # Found by its text: the accessible name also holds the icon font's glyph.
    return explorer.locator("button", has_text=re.compile(r"^Send$"))


def wait_response(explorer: Any, budget: Budget, *shown: str) -> str:
    """The response area's text once it shows all of `shown` (an earlier response may be there)."""
    response = explorer.locator(".kx-resp").last
    text = ""
    for _tick in range(int(budget.ms(UI_TIMEOUT)) // 250):
        text = response.inner_text() if response.count() else ""
        if all(part in text for part in shown):
            return text
        explorer.page.wait_for_timeout(250)
    raise AssertionError(f"the explorer did not show {shown}; it shows: {text!r}")


def offline_swagger_ui(page: Any) -> None:
    """Answer Swagger UI's CDN requests from fastapi-offline's copies; refuse all other off-machine ones."""
    try:
        import fastapi_offline
    except ImportError:
        unavailable("fastapi-offline is not installed (pip install -e '.[dev]')")
    static = Path(fastapi_offline.__file__).parent / "static"
    types = {".js": "application/javascript", ".css": "text/css"}

    def handle(route: Any) -> None:
        url = route.request.url.split("?")[0]
        local = static / url.rsplit("/", 1)[-1]
        if "/swagger-ui-dist@" in url and local.is_file():
            route.fulfill(status=200, body=local.read_bytes(), content_type=types.get(local.suffix))
        else:
            route.abort()

    page.context.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), handle)
