"""notebooks/18_database.ipynb against a real PostgreSQL server (psycopg 3).

.ci/run installs and starts PostgreSQL and sets KERNEL_EXT_TEST_POSTGRES_URL; elsewhere the test
skips unless that variable points at a server. Each run gets its own database, dropped afterwards,
so runs never see each other's tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

URL_ENV = "KERNEL_EXT_TEST_POSTGRES_URL"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "18_database.ipynb"

pytestmark = pytest.mark.postgres


@pytest.fixture
def server_url() -> URL:
    raw = os.environ.get(URL_ENV)
    if not raw:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {URL_ENV} is not set: .ci/run should start PostgreSQL and set it.")
        pytest.skip(f"set {URL_ENV}=postgresql+psycopg://user@host:port/db to run against PostgreSQL")
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):  # bare postgresql means psycopg2, not installed
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture
def scratch_database(server_url: URL) -> Iterator[URL]:
    name = f"kernel_ext_nb_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _outputs(nb: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_database_notebook_runs_against_postgres(
    scratch_database: URL, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", scratch_database.render_as_string(hide_password=False))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    assert f"database: {scratch_database.render_as_string(hide_password=True)}" in _outputs(nb)
    engine = create_engine(scratch_database)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            assert tables.all() == []  # the notebook dropped what it created
    finally:
        engine.dispose()
    assert list(tmp_path.iterdir()) == []
