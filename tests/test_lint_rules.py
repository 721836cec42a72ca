"""House rules a linter does not check: every `# type: ignore` in the package names its error
code and says why, on the same line; no virtual environment is committed."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kernel_ext"
# `# type: ignore[code, code]  # reason`: codes in brackets, then a comment with words in it.
_IGNORE = re.compile(r"#\s*type:\s*ignore\b")
_WELL_FORMED = re.compile(r"#\s*type:\s*ignore\[[a-z][a-z0-9-]*(,\s*[a-z][a-z0-9-]*)*\]\s+#\s*\w.*")


def bad_ignores(source: str) -> list[int]:
    """Line numbers of `# type: ignore` comments without a bracketed code and a reason."""
    bad = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        found = _IGNORE.search(token.string) if token.type == tokenize.COMMENT else None
        if found is not None and not _WELL_FORMED.fullmatch(token.string[found.start() :]):
            bad.append(token.start[0])
    return bad


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("x = f()  # type: ignore[attr-defined]  # FastAPI sets it at include time\n", True),
        ("x = f()  # type: ignore[arg-type, union-attr]  # checked just above\n", True),
        ("x = f()  # type: ignore\n", False),
        ("x = f()  # type: ignore  # no code\n", False),
        ("x = f()  # type: ignore[attr-defined]\n", False),
        ("x = f()  # type: ignore[attr-defined]  #\n", False),
        ("x = f()  # noqa: E501  # type: ignore[misc]\n", False),
        ('x = "# type: ignore"\n', True),  # a string, not a comment
    ],
)
def test_the_rule_tells_reasoned_ignores_from_bare_ones(line: str, ok: bool) -> None:
    assert (bad_ignores(line) == []) is ok


def test_every_type_ignore_in_the_package_has_a_code_and_a_reason() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number in bad_ignores(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "write `# type: ignore[code]  # why` at: " + ", ".join(offenders)


def test_no_virtual_environment_is_tracked() -> None:
    # A worktree whose .venv was a link to main's once committed it, and main's venv became a
    # link to itself.
    root = PACKAGE.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".venv", "*/.venv"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []
