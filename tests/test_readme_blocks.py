"""Every figure block of the README is the rendering of stored benchmark results, figure for figure.

Each block sits between ``<!-- name -->`` markers; when a benchmark is re-run, its command rewrites the block.
"""
from __future__ import annotations

import pytest

from benchmarks import readme_block, report_readme, selection_report, univariate_bench

BLOCKS = {
    "benchmarks": (report_readme.stored_table, "python -m benchmarks.report_readme"),
    "selection": (selection_report.stored_block, "python -m benchmarks.selection_report --readme"),
    "univariate-bench": (univariate_bench.stored_paragraph, "python -m benchmarks.univariate_bench --readme"),
}


@pytest.mark.parametrize("name", BLOCKS)
def test_the_readme_block_is_the_rendering_of_the_stored_results(name):
    render, command = BLOCKS[name]
    assert readme_block.quoted(name) == render().strip(), f"run: {command}"


def test_writing_a_block_replaces_only_that_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- a -->\nold a\n<!-- /a -->\nmiddle\n<!-- b -->\nold b\n<!-- /b -->\nend\n")
    readme_block.write("a", "new a\n\n", readme)
    assert readme.read_text() == "intro\n<!-- a -->\nnew a\n<!-- /a -->\nmiddle\n<!-- b -->\nold b\n<!-- /b -->\nend\n"
    assert readme_block.quoted("b", readme) == "old b"
