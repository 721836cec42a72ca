"""Reading cells: notebooks on disk, overrides, magics, syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel_ext._export import Cell, ExportError
from kernel_ext._export._cells import as_cells, override_of, parse_cell, read_notebook
from tests.support.notebooks import write_notebook


def test_read_notebook_keeps_code_cells_labelled_by_position(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", ["x = 1", ("y = 2", ["kernel_ext:skip"])])
    cells = read_notebook(path)
    assert [(c.source, c.tags, c.label) for c in cells] == [
        ("x = 1", (), "cell 2"),
        ("y = 2", ("kernel_ext:skip",), "cell 3"),
    ]
    assert all(c.cell_id for c in cells)


def test_read_notebook_refuses_what_is_not_a_notebook(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such notebook"):
        read_notebook(tmp_path / "missing.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(ExportError, match="not a readable notebook"):
        read_notebook(tmp_path / "bad.ipynb")
    (tmp_path / "list.ipynb").write_text("[]")
    with pytest.raises(ExportError, match="not a Jupyter notebook"):
        read_notebook(tmp_path / "list.ipynb")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell("x = 1"), None),
        (Cell("x = 1", tags=("kernel_ext:skip",)), "skip"),
        (Cell("x = 1", tags=("kernel_ext:export",)), "export"),
        (Cell("\n# kernel_ext: skip\nx = 1"), "skip"),
        (Cell("#kernel_ext:EXPORT\nx = 1"), "export"),
        (Cell("x = 1\n# kernel_ext: skip"), None),  # only the first line counts
        (Cell("# kernel_ext: export\nx = 1", tags=("kernel_ext:skip",)), "skip"),  # skip wins
    ],
)
def test_overrides_come_from_tags_and_the_first_line(cell: Cell, expected: str | None) -> None:
    assert override_of(cell) == expected


def test_ipython_syntax_becomes_get_ipython_calls_on_the_same_lines() -> None:
    parsed = parse_cell(Cell("%load_ext kernel_ext\n!pip list\nx = 1\n"), 0)
    assert parsed.module is not None
    assert [node.lineno for node in parsed.module.body] == [1, 2, 3]
    assert "get_ipython().run_line_magic('load_ext'" in parsed.code


def test_cell_magics_are_skipped_unless_marked_export() -> None:
    skipped = parse_cell(Cell("%%http\nGET /items\n"), 0)
    assert skipped.module is None and skipped.skip_reason == "a %%http cell magic"
    forced = parse_cell(Cell("%%time\nx = 1\n", tags=("kernel_ext:export",)), 0)
    assert forced.module is not None and forced.code.strip() == "x = 1"


def test_failing_cells_are_skipped() -> None:
    tagged = parse_cell(Cell("1/0", tags=("raises-exception",)), 0)
    assert tagged.module is None and "meant to fail" in (tagged.skip_reason or "")
    failed = parse_cell(Cell("1/0", failed=True), 0)
    assert failed.module is None and failed.skip_reason == "it raised when it ran"


def test_a_syntax_error_names_the_cell_and_line() -> None:
    with pytest.raises(ExportError) as caught:
        parse_cell(Cell("x = 1\ndef broken(:\n    pass", label="cell 7"), 0)
    message = str(caught.value)
    assert message.startswith("cell 7 (`x = 1`) has a syntax error at line 2")
    assert "kernel_ext: skip" in message


def test_what_only_the_compiler_refuses_is_a_syntax_error_too() -> None:
    with pytest.raises(ExportError, match=r"cell 2 \(`return 1`\) has a syntax error at line 1"):
        parse_cell(Cell("return 1", label="cell 2"), 0)


def test_a_syntax_error_in_a_skipped_cell_is_fine() -> None:
    assert parse_cell(Cell("def broken(:", tags=("kernel_ext:skip",)), 0).module is None


def test_top_level_await_parses() -> None:
    assert parse_cell(Cell("r = await client.get('/')"), 0).module is not None


def test_as_cells_accepts_pairs_and_sources() -> None:
    cells = as_cells(["a = 1", ("b = 2", ["t"]), Cell("c = 3", label="In [3]")])
    assert [(c.source, c.tags, c.label) for c in cells] == [
        ("a = 1", (), "cell 1"),
        ("b = 2", ("t",), "cell 2"),
        ("c = 3", (), "In [3]"),
    ]
