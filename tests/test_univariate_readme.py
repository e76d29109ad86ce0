"""The README's univariate benchmark paragraph is the one the benchmark's results render, figure for figure."""
from __future__ import annotations

import json

from benchmarks import univariate_bench as bench


def test_readme_paragraph_comes_from_the_results():
    text = bench.README.read_text()
    start = text.index(bench.MARK_START) + len(bench.MARK_START)
    quoted = text[start:text.index(bench.MARK_END)].strip()
    rendered = bench.readme_paragraph(json.loads(bench.RESULTS.read_text()), json.loads(bench.AB_RESULTS.read_text()))
    assert quoted == rendered, "run: python -m benchmarks.univariate_bench --readme"
