"""pyproject.toml: a small runtime set, extras for the rest; make and conda install every extra."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# `all` only gathers the others.
EXTRAS = set(PROJECT["optional-dependencies"]) - {"all"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _names(requirements: list[str]) -> set[str]:
    return {_name(r) for r in requirements}


def _extras_in(requirement: str) -> set[str]:
    match = re.search(r"\[([^\]]*)\]", requirement)
    return {e.strip() for e in match.group(1).split(",")} if match else set()


def test_runtime_dependencies_are_what_load_ext_needs() -> None:
    # Installing into an existing Jupyter must not bring a front end or a test runner with it.
    assert _names(PROJECT["dependencies"]) == {
        "ipykernel",
        "ipython",
        "fastapi",
        "uvicorn",
        "watchfiles",  # %api watch
        "ipywidgets",
        "httpx",
        "websockets",
        "jsonschema",  # the explorer's input warnings
        "referencing",  # the explorer's $ref resolution
        "python-dateutil",  # %%http date offsets
        "python-jsonpath",  # %%http response values
        "traitlets",  # the explorer's model
        "detect-secrets",  # export's token shapes
    }


def test_extras_carry_the_rest() -> None:
    extras = {name: _names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
    assert "jupyterlab" in extras["lab"]
    assert {"pytest", "pytest-xdist", "nbmake", "nbclient", "build"} <= extras["test"]
    assert {"pyjwt", "pwdlib", "sqlalchemy", "gunicorn"} <= extras["notebooks"]
    assert "ruff" in extras["dev"]
    # The test suite runs the notebooks and drives JupyterLab, so [test] brings both extras.
    test_self = [r for r in PROJECT["optional-dependencies"]["test"] if _name(r) == "kernel-ext"]
    assert _extras_in(test_self[0]) == {"lab", "notebooks"}
    everything = [r for r in PROJECT["optional-dependencies"]["all"] if _name(r) == "kernel-ext"]
    assert _extras_in(everything[0]) | {"lab", "notebooks"} == EXTRAS


def test_the_reference_security_packages_are_not_ours() -> None:
    every = set().union(*(_names(r) for r in PROJECT["optional-dependencies"].values()))
    assert not (every | _names(PROJECT["dependencies"])) & {"python-jose", "passlib"}


def test_environment_yml_installs_the_project_with_every_extra() -> None:
    text = (ROOT / "environment.yml").read_text()
    installs = re.findall(r"^\s*- -e \.\[([^\]]*)\]\s*$", text, re.M)
    assert len(installs) == 1 and set(installs[0].split(",")) == EXTRAS
    assert "python>=3.11" in text
    # No pins repeated: pyproject.toml is the one place they live.
    assert not re.search(r"^\s*- (?!-e )[A-Za-z][\w.-]*(\[[^\]]*\])?[<>=!~]", text.split("- pip:")[1], re.M)


def test_make_installs_every_extra() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert set(re.search(r"^EXTRAS := (.+)$", makefile, re.M).group(1).split(",")) == EXTRAS
    assert "-e '.[$(EXTRAS)]'" in makefile


def test_python_versions_are_declared() -> None:
    assert PROJECT["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in PROJECT["classifiers"]


def test_ci_runs_the_notebooks_with_the_reference_security_packages_installed() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install = ci.index("sh tools/install.sh .venv 'python-jose[cryptography]' 'passlib[bcrypt]'")
    assert install < ci.index("\nmake test")


TEST_ONLY_PACKAGES = {"nbclient", "nbformat", "nbmake", "gunicorn", "pytest", "playwright", "hypothesis"}


def test_the_package_imports_no_test_tooling() -> None:
    # Test tooling lives in tests/ and the [test] extra; a user's `import kernel_ext` never needs it.
    offenders = []
    for path in sorted((ROOT / "kernel_ext").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in TEST_ONLY_PACKAGES
            ]
    assert offenders == []
