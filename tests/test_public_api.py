import kernel_ext

EXPECTED = {
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
}


def test_exported_names_are_exactly_the_public_surface() -> None:
    assert set(kernel_ext.__all__) == EXPECTED
    public = {name for name in vars(kernel_ext) if not name.startswith("_")}
    assert public == EXPECTED - {"__version__"}


def test_functions_raise_a_clear_error_before_loading() -> None:
    import pytest

    from kernel_ext._session import Session

    if Session.current is not None:
        pytest.skip("an extension is loaded in this process")
    with pytest.raises(RuntimeError, match="%load_ext kernel_ext"):
        kernel_ext.base_url()


def test_the_version_is_the_package_metadata() -> None:
    from importlib.metadata import version

    assert kernel_ext.__version__ == version("kernel_ext")


def test_the_quickstart_uses_only_public_api() -> None:
    import json
    import re
    from pathlib import Path

    notebook = Path(__file__).parent.parent / "notebooks" / "00_quickstart.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    private = [c["source"] for c in cells if re.search(r"kernel_ext\._", "".join(c["source"]))]
    assert private == []


def test_the_other_notebooks_use_only_public_api_but_one_wait() -> None:
    import json
    import re
    from pathlib import Path

    private = {}
    for notebook in sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        found = [line for c in cells for line in c["source"] if re.search(r"kernel_ext\._", line)]
        if found:
            private[notebook.name] = found
    # No public call tells when `%api watch` has seen a save; the notebook's collapsed cell waits on it.
    assert private == {
        "04_modules.ipynb": [
            "watcher = kernel_ext._api.session().watch  # no public API tells when the watcher saw a save\n"
        ]
    }
