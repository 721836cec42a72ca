"""tools/flake_hunt.py: which tests a run's JUnit report says failed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parent.parent / "tools" / "flake_hunt.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flake_hunt", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4">
<testcase classname="tests.test_a" name="test_passes" time="0.1"/>
<testcase classname="tests.test_a" name="test_fails" time="0.1"><failure message="assert 1 == 2"/></testcase>
<testcase classname="tests.test_b" name="test_errors" time="0.1"><error message="fixture"/></testcase>
<testcase classname="tests.test_b" name="test_skipped" time="0.1"><skipped message="no"/></testcase>
</testsuite></testsuites>
"""


def test_failures_lists_failed_and_errored_tests_only(tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    report.write_text(REPORT)
    assert load_tool().failures(report) == ["tests.test_a::test_fails", "tests.test_b::test_errors"]
