"""environment.yml must name the same dependencies as pyproject.toml."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {r.replace(" ", "") for r in requirements}


def environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    found = set()
    for line in lines[start + 1 :]:
        item = line.strip()
        if not item.startswith("- "):
            continue
        value = item[2:].split("#")[0].strip()
        if value.startswith("-e"):
            continue
        found.add(value.replace(" ", ""))
    return found


def test_environment_yml_names_the_same_dependencies_and_bounds_as_pyproject() -> None:
    assert environment_requirements() == pyproject_requirements()


def test_environment_yml_installs_the_project_with_its_extras() -> None:
    text = (ROOT / "environment.yml").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert f"-e .[{','.join(extras)}]" in text
    assert "python>=3.11" in text


def test_core_dependencies_are_declared() -> None:
    names = {_name(r) for r in pyproject_requirements()}
    for needed in (
        "jupyterlab",
        "ipykernel",
        "fastapi",
        "uvicorn",
        "ipywidgets",
        "httpx",
        "nbmake",
        "pytest-xdist",
    ):
        assert needed in names
    assert not names & {"python-jose", "passlib"}
