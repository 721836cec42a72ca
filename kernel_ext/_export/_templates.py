"""The files around the `app` package: Dockerfile, gunicorn.conf.py, README, env example."""

from __future__ import annotations

from collections.abc import Sequence

GUNICORN_CMD = "gunicorn app.main:app -k uvicorn_worker.UvicornWorker -w 2 --bind 0.0.0.0:8000"

DOCKERFILE = """\
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
USER app

EXPOSE 8000
CMD ["gunicorn", "app.main:app", "-k", "uvicorn_worker.UvicornWorker", "-w", "2", \\
     "--bind", "0.0.0.0:8000"]
"""

DOCKERIGNORE = """\
.env
.env.*
!.env.example
*.db
*.sqlite3
__pycache__/
*.pyc
.venv/
.git/
"""

_GUNICORN_CONF = '''\
"""gunicorn settings; the command line (as in the Dockerfile) overrides them."""

import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
accesslog = "-"

# Import the app once, before the workers fork: what the notebook's cells do at import time
# (create tables, generate a development secret) then happens once, and is shared.
preload_app = True
'''

_GUNICORN_SQLALCHEMY = '''

def post_fork(server, worker):
    """A forked worker must not reuse the parent's database connections."""
    import gc

    from sqlalchemy.engine import Engine

    for engine in [o for o in gc.get_objects() if isinstance(o, Engine)]:
        engine.dispose(close=False)
'''


def gunicorn_conf(uses_sqlalchemy: bool) -> str:
    return _GUNICORN_CONF + (_GUNICORN_SQLALCHEMY if uses_sqlalchemy else "")


def env_example(names: Sequence[str]) -> str:
    lines = ["# The environment the app reads. Fill in the values; never commit them."]
    lines += [f"{name}=" for name in names]
    return "\n".join(lines) + "\n"


def readme(
    source: str,
    files: Sequence[str],
    env: Sequence[str],
    secrets: Sequence[tuple[str, str]],
    exported: int,
    total: int,
) -> str:
    tree = "\n".join(f"    {path}" for path in files)
    title = source.removesuffix(".ipynb") if source else "app"
    origin = f"`{source}`" if source else "a notebook"
    text = f"""\
# {title}

A FastAPI app exported by `kernel_ext` from {origin}: the {exported} of {total} code cells
that build the app, with only the latest definition of anything redefined. Probes, asserts
and magics stayed in the notebook.

```
{tree}
```

## Run it

```
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/{GUNICORN_CMD}
```

Then open http://127.0.0.1:8000/docs. For a quick edit-and-reload loop while developing,
`uvicorn app.main:app --reload` works too.

## Run it in a container

```
docker build -t app .
docker run --rm -p 8000:8000 --env-file .env app
```

The image is `python:3.12-slim`, runs as an unprivileged user, and serves with gunicorn and two
uvicorn workers (`WEB_CONCURRENCY` changes that through `gunicorn.conf.py`, which also preloads
the app so import-time setup runs once).
"""
    if env:
        names = "\n".join(f"- `{name}`" for name in env)
        text += f"""
## Configuration

Settings come from the environment (or a `.env` file next to the app, which is never copied
into the image). `.env.example` lists them:

{names}
"""
    if secrets:
        moved = "\n".join(f"- `{env_name}` (from {cell})" for env_name, cell in secrets)
        text += f"""
These were literals in the notebook. The export never writes secrets, so the app now reads them
from the environment and will not start without them:

{moved}
"""
    text += """
Note: module-level state (an in-memory dict used as a database) lives in each worker process
separately; with more than one worker, keep state in a real database.
"""
    return text
