"""requirements.txt: what the exported app imports, pinned to the versions installed here."""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Always needed to serve: gunicorn with uvicorn workers (uvicorn[standard]: uvloop, httptools).
_SERVER = (("gunicorn", ""), ("uvicorn-worker", ""), ("uvicorn", "standard"))
# Optional dependencies that a name the app imports needs at run time.
_NEEDED_BY_NAME = {
    "Form": "python-multipart",
    "File": "python-multipart",
    "UploadFile": "python-multipart",
    "OAuth2PasswordRequestForm": "python-multipart",
    "OAuth2PasswordRequestFormStrict": "python-multipart",
    "EmailStr": "email-validator",
    "NameEmail": "email-validator",
    "Jinja2Templates": "jinja2",
    "ORJSONResponse": "orjson",
    "UJSONResponse": "ujson",
    "SessionMiddleware": "itsdangerous",
}
_EXTRAS = {"pwdlib": ("argon2", "bcrypt"), "psycopg": ("binary",)}
_EXTRA_PROBES = {
    ("pwdlib", "argon2"): "argon2-cffi",
    ("pwdlib", "bcrypt"): "bcrypt",
    ("psycopg", "binary"): "psycopg-binary",
}
_DB_DRIVERS = ("psycopg", "psycopg2-binary", "psycopg2", "asyncpg", "pymysql", "aiosqlite")


def requirements(modules: Iterable[str], names: Iterable[str]) -> list[str]:
    """Pinned requirement lines for top-level `modules` and imported `names`."""
    wanted: dict[str, str] = {}  # distribution -> extras
    unknown: list[str] = []
    for module in sorted(set(modules)):
        if module in sys.stdlib_module_names or module in ("app", "__future__"):
            continue
        dists = _distributions(module)
        if not dists:
            unknown.append(module)
            continue
        for dist in dists:
            wanted.setdefault(dist, "")
    for name in names:
        if name in _NEEDED_BY_NAME:
            wanted.setdefault(_NEEDED_BY_NAME[name], "")
    if {"sqlalchemy", "sqlmodel"} & {d.lower() for d in wanted}:
        for driver in _DB_DRIVERS:
            if _installed(driver) and not (driver.startswith("psycopg2") and "psycopg" in wanted):
                wanted.setdefault(driver, "")
    for dist, extra in _SERVER:
        wanted[dist] = extra
    for dist, extras in _EXTRAS.items():
        if dist in wanted:
            chosen = [e for e in extras if _installed(_EXTRA_PROBES[(dist, e)])]
            wanted[dist] = ",".join(chosen)
    lines = [_pin(dist, extra) for dist, extra in sorted(wanted.items(), key=lambda i: i[0].lower())]
    lines += [
        f"# {module}: imported by the app but not installed here; add its package" for module in unknown
    ]
    return lines


def _pin(dist: str, extra: str) -> str:
    name = f"{dist}[{extra}]" if extra else dist
    try:
        return f"{name}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return name


@lru_cache(maxsize=1)
def _packages() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(module: str) -> list[str]:
    # A distribution installed twice (e.g. an editable copy) lists its name twice.
    return list(dict.fromkeys(_canonical(d) for d in _packages().get(module, [])))


def _canonical(dist: str) -> str:
    try:
        return metadata.metadata(dist)["Name"]
    except metadata.PackageNotFoundError:
        return dist


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True
