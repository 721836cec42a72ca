"""`google.colab.output`: the two functions kernel_ext uses, with Colab's signatures."""

from __future__ import annotations

import json
import re
import threading

from IPython import display

from ._proxy import proxy_for

_PROXY_PORT = re.compile(r"google\.colab\.kernel\.proxyPort\((\d+)(?:\s*,\s*\{[^}]*\})?\)")
calls: list[str] = []  # what the kernel asked the front end, for tests to check


def eval_js(script: str, ignore_result: bool = False, timeout_sec: float | None = None) -> object:
    """Colab sends `script` to the browser and waits for its value. The browser is only there
    while a cell runs, so like Colab's, this is for the kernel's main thread."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("eval_js: the front end answers only the cell that is running")
    calls.append(script)
    match = _PROXY_PORT.fullmatch(script.strip())
    if match is None:
        raise NotImplementedError(f"the stand-in front end evaluates proxyPort(...) only, not {script!r}")
    url = proxy_for(int(match.group(1)))
    return None if ignore_result else url


def serve_kernel_port_as_iframe(
    port: int, path: str = "/", width: str = "100%", height: str = "400", cache_in_notebook: bool = False
) -> None:
    """Colab displays Javascript that asks the browser for the proxied URL and frames it."""
    code = f"""(async () => {{
    const url = new URL(await google.colab.kernel.proxyPort({port}, {{'cache': {json.dumps(cache_in_notebook)}}}));
    url.pathname = {json.dumps(path)};
    const iframe = document.createElement('iframe');
    iframe.src = url;
    iframe.setAttribute('width', {json.dumps(width)});
    iframe.setAttribute('height', {json.dumps(height)});
    iframe.setAttribute('frameborder', 0);
    document.body.appendChild(iframe);
}})();"""
    display.display(display.Javascript(code))
