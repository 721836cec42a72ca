"""50 concurrent clients while a route cell (model, dependency and route) is re-run 100 times.

Every answer must come whole from one version: no connection error, no 404 or 5xx, the model,
the dependency and the route of one run together, and no client ever sees an older version
after a newer one.
"""

from __future__ import annotations

import httpx

from tests.support.kernel import kernel_with_app, ok, request_log
from tests.support.load import Load
from tests.support.waiting import wait_for

CLIENTS = 50
RERUNS = 100

CELL = """\
from fastapi import Depends

class Version(BaseModel):
    v: int
    tag: str

def version_tag() -> str:
    return "t{n}"

@app.get("/v", response_model=Version)
def read_version(tag: str = Depends(version_tag)):
    return {{"v": {n}, "tag": tag, "dropped_by_response_model": True}}
"""


def check_version(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code} on {response.url.path}"
    if response.url.path == "/openapi.json":
        operations = response.json()["paths"].get("/v", {})
        return None if list(operations) == ["get"] else f"openapi /v has {list(operations)}"
    body = response.json()
    if set(body) != {"v", "tag"}:
        return f"keys {sorted(body)}"  # an old model or none at all
    if body["tag"] != f"t{body['v']}":
        return f"mixed versions {body}"
    return None


def test_every_answer_is_whole_old_or_new_under_reload() -> None:
    with kernel_with_app() as (kernel, url):
        ok(kernel, CELL.format(n=0))
        paths = ["/openapi.json"] * 2 + ["/v"] * (CLIENTS - 2)
        with Load(url, paths, check_version) as load:
            for n in range(1, RERUNS + 1):
                # Traffic between every two runs, however slow the machine: swaps meet requests.
                seen = load.count
                wait_for(lambda seen=seen: load.count >= seen + CLIENTS // 5, timeout=30)
                ok(kernel, CELL.format(n=n))
            final = httpx.get(url + "/v", timeout=10).json()
            report = load.stop()
        routes = kernel.value("[r.path for r in app.router.routes if getattr(r, 'path', '') == '/v']")
        log = request_log(kernel)

    assert final == {"v": RERUNS, "tag": f"t{RERUNS}"}
    assert not report.errors, report.summary()
    tracebacks = log[log.find("Traceback") :][:6000] if "Traceback" in log else ""
    assert not report.problems, f"{report.summary()}\n{tracebacks}"
    for log in report.clients:
        if log.path == "/v":
            seen = [a["v"] for a in log.answers]
            assert seen == sorted(seen), f"a client saw an older version after a newer one: {seen}"
    assert routes == ["/v"]
