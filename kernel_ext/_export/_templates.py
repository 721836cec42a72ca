"""The files around the `app` package: Dockerfile, gunicorn.conf.py, README, env example."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MANIFEST = ".kernel_ext-export.json"


def gunicorn_cmd(workers: int) -> str:
    return f"gunicorn app.main:app -k uvicorn_worker.UvicornWorker -w {workers} --bind 0.0.0.0:8000"


def dockerfile(workers: int, directories: Sequence[str] = ()) -> str:
    copies = "".join(f"COPY --chown=app {d} ./{d}\n" for d in directories)
    return f"""\
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt

# Run as a user without privileges; it owns /srv so a SQLite file can live there.
RUN useradd --create-home --uid 10001 app && chown app /srv
COPY --chown=app gunicorn.conf.py .
COPY --chown=app app ./app
{copies}USER app

EXPOSE 8000
CMD ["gunicorn", "app.main:app", "-k", "uvicorn_worker.UvicornWorker", "-w", "{workers}", \\
     "--bind", "0.0.0.0:8000"]
"""


DOCKERIGNORE = f"""\
.env
.env.*
!.env.example
{MANIFEST}
*.db
*.sqlite3
__pycache__/
*.pyc
.venv/
.git/
"""

ENV_MODULE = '''\
"""Settings the export took out of the code: the app reads them at import, and stops there
with a clear message when one is missing."""

import os


def require_env(name: str) -> str:
    """The value of the environment variable `name`, which must be set and not empty."""
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(
            f"the environment variable {name} is not set; the app needs it to start "
            "(.env.example lists every variable it reads)"
        )
    return value
'''

_GUNICORN_CONF = '''\
"""gunicorn settings; the command line (as in the Dockerfile) overrides them."""

import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "{workers}")){note}
worker_class = "uvicorn_worker.UvicornWorker"
accesslog = "-"

# Import the app once, before the workers fork: what the notebook's cells do at import time
# (create tables, read settings) then happens once, and is shared.
preload_app = True
'''
_ONE_WORKER_NOTE = "  # the app keeps state in process memory: see README.md"

_GUNICORN_SQLALCHEMY = '''

def post_fork(server, worker):
    """A forked worker must not reuse the parent's database connections."""
    import gc

    from sqlalchemy.engine import Engine

    for engine in [o for o in gc.get_objects() if isinstance(o, Engine)]:
        engine.dispose(close=False)
'''


def gunicorn_conf(uses_sqlalchemy: bool, workers: int = 2) -> str:
    text = _GUNICORN_CONF.format(workers=workers, note=_ONE_WORKER_NOTE if workers == 1 else "")
    return text + (_GUNICORN_SQLALCHEMY if uses_sqlalchemy else "")


def env_example(names: Sequence[str]) -> str:
    lines = ["# The environment the app reads. Fill in the values; never commit them."]
    lines += [f"{name}=" for name in names]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Facts:
    """What the README tells about one export."""

    source: str
    files: Sequence[str]
    exported: int
    total: int
    env: Sequence[str] = ()
    secrets: Sequence[tuple[str, str]] = ()  # (variable, cell) of literals moved out
    generated: Sequence[tuple[str, str]] = ()  # (variable, cell) that had a per-process default
    state: Sequence[str] = ()  # descriptions of what each worker holds in its own memory
    websockets: bool = False
    directories: Sequence[str] = field(default=())

    @property
    def workers(self) -> int:
        return 1 if self.state else 2


def state_warning(facts: Facts) -> str:
    """One paragraph: what lives in process memory, and why the export runs one worker."""
    held = "; ".join(facts.state)
    broadcast = (
        " A WebSocket client connected to one worker would never hear a broadcast sent by another."
        if facts.websockets
        else ""
    )
    return (
        f"The app keeps state in the memory of its process: {held}. Each gunicorn worker would "
        "have its own copy: with two workers, a request could miss what another request stored."
        f"{broadcast} So it runs with one worker (`-w 1`). To serve more, keep that state in a "
        "database or Redis (a pub/sub channel for broadcasts), then raise `-w` or `WEB_CONCURRENCY`."
    )


def readme(facts: Facts) -> str:
    tree = "\n".join(f"    {path}" for path in facts.files)
    title = facts.source.removesuffix(".ipynb") if facts.source else "app"
    origin = f"`{facts.source}`" if facts.source else "a notebook"
    workers = "one uvicorn worker" if facts.workers == 1 else "two uvicorn workers"
    text = f"""\
# {title}

A FastAPI app exported by `kernel_ext` from {origin}: the {facts.exported} of {facts.total} code cells
that build the app, with only the latest definition of anything redefined. Probes, asserts
and magics stayed in the notebook.

```
{tree}
```

## Run it

```
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/{gunicorn_cmd(facts.workers)}
```

Then open http://127.0.0.1:8000/docs. For a quick edit-and-reload loop while developing,
`uvicorn app.main:app --reload` works too.

## Run it in a container

```
docker build -t app .
docker run --rm -p 8000:8000 --env-file .env app
```

The image is `python:3.12-slim`, runs as an unprivileged user, and serves with gunicorn and
{workers} (`WEB_CONCURRENCY` changes that through `gunicorn.conf.py`, which also preloads
the app so import-time setup runs once).
"""
    text += "\n## Workers\n\n"
    if facts.state:
        text += state_warning(facts) + "\n"
    else:
        text += (
            "No route changes module-level memory (dicts, lists, sets or objects the export could "
            "see), so each request may go to either worker. If you add such state, keep it in a "
            "database, or run one worker.\n"
        )
    if facts.directories:
        names = ", ".join(f"`{d}/`" for d in facts.directories)
        text += f"\nThe app serves files from {names}, copied from the notebook's directory.\n"
    if facts.env:
        names = "\n".join(f"- `{name}`" for name in facts.env)
        text += f"""
## Configuration

Settings come from the environment (or a `.env` file next to the app, which is never copied
into the image). `.env.example` lists them:

{names}
"""
    if facts.secrets:
        moved = "\n".join(f"- `{env_name}` (from {cell})" for env_name, cell in facts.secrets)
        text += f"""
These were literals in the notebook. The export never writes secrets, so the app now reads them
from the environment when it is imported, and will not start without them:

{moved}
"""
    for env_name, cell in facts.generated:
        text += f"""
`{env_name}` had a default generated per process in the notebook ({cell}): fine while
prototyping, where it died with the kernel. The export requires it instead. A generated value
differs in every worker and replica and changes on every restart, so a token signed, or a
password accepted, by one process would be refused by another, and every restart would
invalidate the tokens already issued. Set it in production to a value that stays the same
(for a key: `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
"""
    return text
