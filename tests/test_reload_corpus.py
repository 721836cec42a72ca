"""FastAPI's tutorials (docs_src), cell by cell: after every run, re-run, edit or deletion the
live app must equal a fresh run. Fast profile: a fixed sample; long (`make fuzz-reload`): all.

Only GET requests are compared here: tutorials keep state in module-level dicts that other
methods change, and the live app is probed many times where the fresh app is new each time.
Schemas of every operation are compared all the same.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.reload_corpus import Tutorial, fetch_docs_src, steps, tutorials, write_beside
from tests.support.reload_harness import Divergence, FreshRuns, Notebook, known_as, report, restart

LONG = os.environ.get("KERNEL_EXT_FUZZ") == "long"
SAMPLE = int(os.environ.get("KERNEL_EXT_CORPUS_SAMPLE", "0" if LONG else "8"))  # 0: every tutorial
STEPS = int(os.environ.get("KERNEL_EXT_CORPUS_STEPS", "6" if LONG else "3"))
SEED = int(os.environ.get("KERNEL_EXT_CORPUS_SEED", "11"))
ONLY = [n for n in os.environ.get("KERNEL_EXT_CORPUS_ONLY", "").split(",") if n]  # name substrings


@pytest.fixture(scope="module")
def docs_src() -> Path:
    try:
        return fetch_docs_src()
    except Exception as exc:  # no network, no index: say so plainly
        pytest.skip(f"FastAPI's docs_src could not be fetched ({exc})")


def test_fastapi_tutorials_live_equal_a_fresh_run(
    docs_src: Path, harness: tuple[Any, Path, FreshRuns]
) -> None:
    ip, workdir, fresh = harness
    write_beside(docs_src, workdir)
    found, left_out = tutorials(docs_src)
    if ONLY:
        found = [t for t in found if any(n in t.name for n in ONLY)]
    rng = random.Random(SEED)
    chosen = rng.sample(found, min(SAMPLE, len(found))) if SAMPLE else found
    started = time.perf_counter()
    unknown: list[str] = []
    seen: dict[str, str] = {}
    count = 0
    for tutorial in chosen:
        for divergence, history in _play(ip, workdir, fresh, tutorial, rng):
            count += 1
            signature = known_as(divergence) or f"{tutorial.name}: {divergence}"
            if signature in seen:
                continue
            seen[signature] = history
            if known_as(divergence) is None:
                unknown.append(f"{tutorial.name}:\n{report([divergence])}\nafter: {history}")
            if LONG:
                print(f"\nDIVERGENCE {tutorial.name}: {divergence}\n  after: {history}", flush=True)
    if LONG:
        print(
            f"\ncorpus: {len(chosen)} tutorials ({len(left_out)} left out: packages not installed), "
            f"{fresh.runs} fresh runs, {count} divergent comparisons, {len(seen)} distinct, "
            f"{time.perf_counter() - started:.0f} s"
        )
        for signature in seen:
            print(f"  {signature}")
        return
    assert not unknown, "\n\n".join(unknown)


def _play(
    ip: Any, workdir: Path, fresh: FreshRuns, tutorial: Tutorial, rng: random.Random
) -> list[tuple[Divergence, str]]:
    restart(ip, ("docs_src",))
    nb = Notebook(ip, workdir, fresh, methods=("GET",))
    history: list[str] = []
    found: list[tuple[Divergence, str]] = []
    try:
        for index, cell in enumerate(tutorial.cells):
            nb.run(f"t{index}", cell)
        history.append(f"ran its {len(tutorial.cells)} cells")
        found += [(d, "; ".join(history)) for d in nb.compare()]
        for step in steps(tutorial, rng, STEPS):
            if step.kind == "delete":
                nb.delete(f"t{step.cell}")
            else:
                nb.run(f"t{step.cell}", step.source or _current(nb, f"t{step.cell}"))
            history.append(str(step))
            found += [(d, "; ".join(history)) for d in nb.compare()]
    finally:
        nb.close()
    return found


def _current(nb: Notebook, cell_id: str) -> str:
    run = nb.session.cells.find(cell_id)
    assert run is not None
    return run.source
