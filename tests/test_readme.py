"""README.md as tests: every fenced code block runs, in order, as a new user pastes it on a fresh setup.

`Sybil <https://sybil.readthedocs.io>`_ (pinned in the dev extras) finds the blocks; each block is one test,
named by its line (``test_readme_block[line-123]``), and the tests run in the README's order:

* ``python`` blocks share one namespace (a later block uses the ``detections`` of an earlier one) and run in
  this process, in a sandbox folder;
* ``bash`` blocks run in ``bash -e -o pipefail`` in the same folder, with the virtualenv's commands on
  ``PATH``: every command must succeed, and no traceback or kernel error may be printed.  Processes a block
  leaves in the background (``dask scheduler ... &``) are stopped when it ends.  A block that starts a server
  (``workbench serve``, ``workbench notebooks dashboard``, ``voila``) is started, must answer HTTP on its port,
  and is then stopped with Ctrl-C (SIGINT);
* ``json`` blocks must parse;
* a block in any other language, or with none, fails: give it a language, or opt it out.

**Opting a block out**: put Sybil's skip directive, with the reason, on the line before the block::

    <!-- skip: next "why this block cannot run in the tests" -->

The reason is what ``pytest -ra`` prints for the skipped test.  Only for what cannot run here (the setup
command itself, a process that never ends by design); anything else runs against a local stand-in:

* the sandbox has ``data/`` and ``notebooks/`` of the checkout, a fresh registry (``WORKBENCH_HOME``) and
  ``path/to/series/`` (per-variable CSVs of Microsoft's sample) for the zip-and-upload examples;
* ``$AZURE_STORAGE_CONNECTION_STRING`` and the Python name ``connection_string`` are Azurite's;
* ``/path/to/data`` is ``data/samples``; ``scheduler-host`` is ``127.0.0.1`` (a real ``dask scheduler`` and
  ``dask worker`` started by the block itself); the ports 8000, 8866 and 8786 become free ports (the same
  one for each in every block);
* ``<modelId>`` is the newest READY model of the sandbox registry: the one the blocks before trained.

**Figures the README quotes** in its prose (``QUOTED``) are computed from the namespace as soon as a block has
produced what they need, and that block fails when the README's text differs from what the code gives, at the
precision quoted (``0.96`` against 0.9634 passes; against 0.982 it fails).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from sybil import Document, Example, Lexeme, Region, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer
from sybil.parsers.markdown.skip import SkipParser

from conftest import free_port, stop_process
from workbench.service.registry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::workbench.data.DataWarning")]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
BLOCK_TIMEOUT = 540           # seconds for one block (pytest-timeout stops a test at 600)
SERVER_START_TIMEOUT = 120
SERVER = re.compile(r"^\s*(workbench\s+serve|workbench\s+notebooks\s+dashboard|voila|jupyter\s+lab)\b", re.M)
PORTS = ("8000", "8866", "8786")
FAILURE_MARKS = ("Traceback (most recent call last)", "[IPKernelApp] ERROR")


# ---------------------------------------------------------------- figures the README quotes


@dataclass
class Quoted:
    """Figures quoted in the README's prose: ``pattern`` (spaces match any whitespace) names them; ``compute``
    gives their values from the blocks' namespace once it holds every name in ``needs``."""

    pattern: str
    needs: tuple[str, ...]
    compute: Callable[[dict], dict[str, float]]
    checked: bool = field(default=False)


def _quick_start(namespace: dict) -> dict[str, float]:
    detections = namespace["detections"]
    return {"flagged": int(detections.frame["is_anomaly"].sum()), "rows": len(detections.frame),
            **detections.evaluate(namespace["labels"])}


QUOTED = [
    Quoted(r"the detection flags (?P<flagged>[\d,]+) of (?P<rows>[\d,]+) rows; against the labels "
           r"VUS-PR (?P<vus_pr>[\d.]+), AUC-PR (?P<auc_pr>[\d.]+), F1 (?P<f1>[\d.]+) "
           r"\(precision (?P<precision>[\d.]+), recall (?P<recall>[\d.]+)\)",
           ("detections", "labels"), _quick_start),
]


def _check_quoted(namespace: dict) -> None:
    text = README.read_text(encoding="utf-8")
    for quoted in QUOTED:
        if quoted.checked or not all(name in namespace for name in quoted.needs):
            continue
        quoted.checked = True
        matches = list(re.finditer(quoted.pattern.replace(" ", r"\s+"), text))
        assert len(matches) == 1, (f"README.md should quote these figures once ({len(matches)} found): update "
                                   f"QUOTED in {Path(__file__).name} with the new wording\n{quoted.pattern}")
        values = quoted.compute(namespace)
        wrong = [f"{name}: README says {said}, the code gives {_as_quoted(values[name], said)}"
                 for name, said in matches[0].groupdict().items() if _as_quoted(values[name], said) != said]
        assert not wrong, "README.md quotes figures the code does not give:\n" + "\n".join(wrong)


def _as_quoted(value: float, quoted: str) -> str:
    """``value`` written as ``quoted`` is: the same number of decimals, thousands separated by commas or not."""
    if "." in quoted:
        return f"{value:.{len(quoted.split('.')[1])}f}"
    return f"{round(value):,}" if "," in quoted else str(round(value))


# ---------------------------------------------------------------- the sandbox and its stand-ins


class Sandbox:
    """The folder, environment and stand-ins the blocks run with (see the module docstring)."""

    def __init__(self, root: Path, azurite: str) -> None:
        self.root = root
        self.home = root / "home"
        for name in ("data", "notebooks"):
            (root / name).symlink_to(ROOT / name, target_is_directory=True)
        series = root / "path" / "to" / "series"
        series.mkdir(parents=True)
        sample = pd.read_csv(ROOT / "data" / "samples" / "sample_data_5_3000.csv")
        for column in sample.columns[1:]:
            sample[["timestamp", column]].rename(columns={column: "value"}).to_csv(series / f"{column}.csv",
                                                                                   index=False)
        self.ports = {port: str(free_port()) for port in PORTS}
        self.env = {**os.environ, "WORKBENCH_HOME": str(self.home), "AZURE_STORAGE_CONNECTION_STRING": azurite,
                    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.namespace_seed = {"connection_string": azurite}

    def substitute(self, source: str) -> str:
        """The block as it runs here: placeholders and remote hosts replaced by their local stand-ins."""
        for port, local in self.ports.items():
            source = re.sub(rf"(?<=:){port}\b", local, source)
            source = re.sub(rf"(?<=--port ){port}\b", local, source)
            source = re.sub(rf"(?<=--port=){port}\b", local, source)
        source = source.replace("scheduler-host", "127.0.0.1").replace("/path/to/data", "data/samples")
        if "<modelId>" in source:
            source = source.replace("<modelId>", self.newest_model()[:8])
        return source

    def newest_model(self) -> str:
        models, _ = Registry(self.home).list_models(0, 100)
        ready = [m for m in models if m.model_info.is_ready]
        assert ready, "a block uses <modelId> but no earlier block trained a model"
        return max(ready, key=lambda m: m.created_time).model_id


SANDBOX: dict[str, Sandbox] = {}
RAN: list[int] = []


# ---------------------------------------------------------------- evaluators


def _run_python(example: Example) -> None:
    sandbox = SANDBOX["current"]
    source = sandbox.substitute(str(example.parsed))
    example.parsed = Lexeme(source, example.parsed.offset, example.parsed.line_offset)
    PythonEvaluator()(example)
    _check_quoted(example.namespace)


def _run_shell(example: Example) -> None:
    sandbox = SANDBOX["current"]
    source = sandbox.substitute(str(example.parsed))
    # output to a file, not a pipe: what the block leaves in the background would hold a pipe open
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", source], cwd=sandbox.root,
                                   env=sandbox.env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        try:
            if SERVER.search(source):
                served = _serve_once(process, source)
            else:
                process.wait(timeout=BLOCK_TIMEOUT)
        finally:
            _stop_group(process)
        log.seek(0)
        output = log.read()
    if SERVER.search(source):
        assert served, f"README.md line {example.line}: {served.reason}\n{output[-4000:]}"
    else:
        assert process.returncode == 0, f"README.md line {example.line}: exit {process.returncode}\n{output[-4000:]}"
    marks = [mark for mark in FAILURE_MARKS if mark in output]
    assert not marks, f"README.md line {example.line} printed {marks}:\n{output[-4000:]}"


@dataclass
class Served:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _serve_once(process: subprocess.Popen, source: str) -> Served:
    """A server block: it must answer HTTP on its port, then stop on Ctrl-C."""
    port = int(re.search(r"--port[ =](\d+)", source).group(1))
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    if process.poll() is not None:
        return Served(False, f"exited with status {process.returncode} instead of serving port {port}")
    try:   # the whole page: a dashboard's kernel has run the notebook (an idle kernel ignores Ctrl-C)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=SERVER_START_TIMEOUT) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:   # a v1.1 error body is an answer too
        status = error.code
    except OSError as error:
        return Served(False, f"no answer on port {port} ({error})")
    os.killpg(process.pid, signal.SIGINT)           # Ctrl-C, as in a terminal: the whole foreground group
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        return Served(False, "did not stop on Ctrl-C within 60 s")
    return Served(status < 500, f"answered {status}")


def _stop_group(process: subprocess.Popen) -> None:
    """Stop what the block left running (its own process group, started for it), then the shell itself."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(1.0 if sig == signal.SIGTERM else 0)
    if process.poll() is None:
        stop_process(process)


def _check_json(example: Example) -> None:
    json.loads(str(example.parsed))


def _refuse(example: Example) -> None:
    language = example.region.lexemes.get("arguments") or "(none)"
    pytest.fail(f"README.md line {example.line}: a code block in language {language!r} runs nowhere: write it as "
                "python or bash, or put <!-- skip: next \"the reason\" --> on the line before it")


class ReadmeBlocks:
    """Every fenced code block, whatever its language, with the evaluator its language gets."""

    EVALUATORS = {"python": _run_python, "bash": _run_shell, "sh": _run_shell, "shell": _run_shell,
                  "json": _check_json}

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(language=r"[^\n]*", mapping={"language": "arguments", "source": "source"})

    def __call__(self, document: Document):
        for region in self.lexer(document):
            language = region.lexemes["arguments"].strip()
            yield Region(region.start, region.end, region.lexemes["source"],
                         self.EVALUATORS.get(language, _refuse), lexemes=region.lexemes)


DOCUMENT = Sybil(parsers=[SkipParser(), ReadmeBlocks()]).parse(README)
BLOCKS: list[tuple[list[Example], Example]] = []   # (the skip directives before a block, the block)
_directives: list[Example] = []
for _example in DOCUMENT:
    if isinstance(_example.region.parsed, tuple):    # a skip directive: (action, reason)
        _directives.append(_example)
    else:
        BLOCKS.append((_directives, _example))
        _directives = []


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, azurite):
    box = Sandbox(tmp_path_factory.mktemp("readme"), azurite)
    DOCUMENT.namespace.clear()
    DOCUMENT.namespace.update(box.namespace_seed)
    for quoted in QUOTED:
        quoted.checked = False
    SANDBOX["current"] = box
    yield box
    SANDBOX.pop("current", None)
    DOCUMENT.namespace.clear()
    shutil.rmtree(box.root / "path", ignore_errors=True)


@pytest.mark.parametrize("directives, block", BLOCKS, ids=[f"line-{b.line}" for _, b in BLOCKS])
def test_readme_block(directives, block, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox.root)
    monkeypatch.setenv("WORKBENCH_HOME", str(sandbox.home))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", sandbox.env["AZURE_STORAGE_CONNECTION_STRING"])
    RAN.append(block.line)
    try:
        for directive in directives:
            directive.evaluate()
        block.evaluate()
    except unittest.SkipTest as skipped:               # Sybil's skip directive: report it at the README's line
        pytest.skip(f"README.md line {block.line}: {skipped}")


def test_every_quoted_figure_is_checked_by_a_block():
    """Each ``QUOTED`` entry is checked by the block that produces its figures (this test runs after them)."""
    if not RAN:
        pytest.skip("runs after the README blocks (none ran in this session)")
    assert all(q.checked for q in QUOTED), [q.pattern for q in QUOTED if not q.checked]
