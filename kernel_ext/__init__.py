"""kernel_ext: a live FastAPI server inside the Jupyter kernel, hot-reloaded cell by cell."""

from importlib import metadata as _metadata

from ._api import (
    base_url,
    check,
    coverage,
    docs,
    explore,
    export,
    forget,
    last_diff,
    log,
    reload,
    restart,
    routes,
    serve,
    start,
    status,
    stop,
    watch,
)
from ._extension import load_ipython_extension, unload_ipython_extension

__version__ = _metadata.version("kernel_ext")  # the one version: pyproject.toml

__all__ = [
    "__version__",
    "base_url",
    "check",
    "coverage",
    "docs",
    "explore",
    "export",
    "forget",
    "last_diff",
    "load_ipython_extension",
    "log",
    "reload",
    "restart",
    "routes",
    "serve",
    "start",
    "status",
    "stop",
    "unload_ipython_extension",
    "watch",
]
