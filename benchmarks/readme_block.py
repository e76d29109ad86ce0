"""README blocks rendered from stored results, so no figure in the README is typed by hand.

A block sits between ``<!-- name -->`` and ``<!-- /name -->`` in the project's README.  The module that renders
a block writes it with :func:`write` (its ``--readme`` command) and a test compares :func:`quoted` with the
rendering of the stored results.
"""
from __future__ import annotations

from pathlib import Path

from workbench._atomic import atomic_write_text

README = Path(__file__).resolve().parent.parent / "README.md"


def _marks(name: str) -> tuple[str, str]:
    return f"<!-- {name} -->", f"<!-- /{name} -->"


def quoted(name: str, readme: Path = README) -> str:
    """The text of block ``name`` as the README has it (surrounding blank lines stripped)."""
    text = readme.read_text()
    start, end = _marks(name)
    return text[text.index(start) + len(start):text.index(end)].strip()


def write(name: str, block: str, readme: Path = README) -> None:
    """Replace block ``name`` in the README by ``block``."""
    text = readme.read_text()
    start, end = _marks(name)
    head, tail = text.index(start) + len(start), text.index(end)
    atomic_write_text(readme, text[:head] + "\n" + block.strip() + "\n" + text[tail:])
