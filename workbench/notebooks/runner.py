"""The notebooks run headless with papermill (one, or a batch over parameter sets) and served with Voila.

Every notebook in ``notebooks/`` has one cell tagged ``parameters`` and ends by
writing a small JSON summary to its ``summary_path`` parameter
(:mod:`workbench.notebooks.summary`); the papermill regression tests and batch runs
read those summaries back.  Relative paths in parameters are read from the
notebook's folder, as in JupyterLab.

Progress bars: each notebook that trains takes ``show_progress`` (default
True, so JupyterLab shows tqdm bars).  :func:`run_notebook` sets it to False
unless told otherwise, so papermill output notebooks and logs carry no bars.
The kernel logs only errors (no IPKernelApp TCP warning in every run).

Reports: ``html=True`` also writes ``<output>.html`` with the ``workbench-report`` template
(``notebooks/jupyter-data/nbconvert/templates``: nbconvert's lab template without the require.js,
MathJax and mermaid scripts it loads from a CDN).  Figures carry plotly.js inlined once
(``workbench.viz``) and no widget state is stored, so widgets fall back to their static snapshot:
the report opens with no network and makes no request off the machine.

Kernel shutdown: jupyter_client interrupts a kernel (SIGINT) before asking it to shut down; a kernel
still busy with the messages that follow a failed cell then logs ``KeyboardInterrupt caught in kernel``
at ERROR level, on the user's terminal.  The runner's kernel manager asks without the interrupt
(a kernel that does not stop is still terminated, then killed, as before).
"""

import functools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


from workbench._atomic import atomic_write_text
from workbench.exceptions import DataError, ErrorCode, ValidationError, WorkbenchError, file_not_found
from workbench.notebooks.summary import read_summary


NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
DASHBOARD = NOTEBOOKS_DIR / "dashboard.ipynb"
# Voila's lab template minus its CDN stylesheets (voila.json names it; JUPYTER_PATH finds it): no request off the machine
VOILA_DATA = NOTEBOOKS_DIR / "jupyter-data"
REPORT_TEMPLATE = "workbench-report"   # nbconvert's lab template minus its CDN scripts (VOILA_DATA/nbconvert/templates)
NOTEBOOK_FAILED = ErrorCode.NOTEBOOK_FAILED
KERNEL_NAME = "python3"
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]  # quiet kernels: no TCP-without-encryption warning per run
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass
class NotebookRun:
    """One executed notebook: where it was written, with which parameters, and what it recorded."""

    notebook: str
    output: str
    parameters: dict[str, Any]
    summary: dict[str, Any] | None
    seconds: float
    error: dict[str, str] | None = None
    html: str | None = None   # the HTML report beside the output notebook, when asked for

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- parameters


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """The parameters a notebook declares: name -> {type, default, help} (as ``papermill --help-notebook``)."""
    import papermill

    path = _notebook(notebook)
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in papermill.inspect_notebook(str(path)).items()}


def coerce_parameters(notebook: str | os.PathLike[str], raw: Mapping[str, str]) -> dict[str, Any]:
    """Convert command-line strings to each parameter's declared type (int, float, bool, str)."""
    declared = notebook_parameters(notebook)
    out = {}
    for name, text in raw.items():
        if name not in declared:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{Path(notebook).name} has no parameter '{name}'; it takes "
                                                          f"{', '.join(declared)}")
        out[name] = _coerce(name, text, declared[name]["type"])
    return out


def _coerce(name: str, text: str, type_name: str) -> Any:
    try:
        if type_name == "int":
            return int(text)
        if type_name == "float":
            return float(text)
    except ValueError:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"parameter '{name}' must be {type_name}; got {text!r}") from None
    if type_name == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"parameter '{name}' must be true or false; got {text!r}")
    return text


def read_parameter_sets(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A batch file: a JSON list of objects, one set of notebook parameters each."""
    try:
        sets = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise file_not_found(path, "the parameter sets file") from None
    except (OSError, ValueError) as exc:
        raise DataError(ErrorCode.BAD_ARGUMENT, f"cannot read the parameter sets ({exc})", file=str(path)) from exc
    if not isinstance(sets, list) or not sets or not all(isinstance(s, dict) for s in sets):
        raise DataError(ErrorCode.BAD_ARGUMENT, "the parameter file must hold a non-empty JSON list of objects",
                        file=str(path))
    return sets


# ---------------------------------------------------------------- running


def run_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    summary_path: str | os.PathLike[str] | None = None,
    progress: bool = False,
    log_output: bool = False,
    timeout: int | None = None,
    html: bool = False,
) -> NotebookRun:
    """Execute a notebook with papermill and read its JSON summary; raises ``WorkbenchError`` if a cell fails.

    The summary goes to ``summary_path`` (default: ``output`` with ``.json``);
    ``progress`` becomes the notebook's ``show_progress`` unless ``parameters``
    set it; ``timeout`` limits each cell (seconds); ``html`` writes the HTML
    report beside the output (also for a failed run).  The kernel is the Python
    running this function (kernel ``python3``).
    """
    path = _notebook(notebook)
    declared = notebook_parameters(path)
    params = _check_parameters(path, declared, parameters or {})
    run = _run(path, declared, Path(output), params, summary_path, progress, log_output, timeout, html)
    if run.error:
        raise WorkbenchError(NOTEBOOK_FAILED, f"{path.name} failed: {run.error['message']} (see {run.output})",
                             file=str(path))
    return run


def run_batch(
    notebook: str | os.PathLike[str],
    parameter_sets: Sequence[Mapping[str, Any]],
    output_dir: str | os.PathLike[str],
    *,
    progress: bool = False,
    log_output: bool = False,
    timeout: int | None = None,
    html: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
) -> list[NotebookRun]:
    """Run a notebook once per parameter set, as users' batch runs do: one after the other, or in parallel on Dask.

    Run ``i`` writes ``<stem>-<i>.ipynb`` and ``<stem>-<i>.json`` (its summary),
    with ``html`` also ``<stem>-<i>.html``, under ``output_dir``; ``batch.json`` lists every run.  A failing run is
    recorded (``error``) and the others still run.  With ``scheduler``, ``workers`` or ``client`` the runs are
    tasks on the fleet's Dask engine (an embedded LocalCluster of ``workers`` processes, or a cluster), one
    kernel per worker at a time.
    """
    path = _notebook(notebook)
    if isinstance(parameter_sets, Mapping) or not parameter_sets:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "parameter_sets must be a non-empty list of mappings")
    declared = notebook_parameters(path)
    checked = [_check_parameters(path, declared, p) for p in parameter_sets]
    folder = Path(output_dir)
    outputs = [folder / f"{path.stem}-{i:03d}.ipynb" for i in range(len(checked))]
    if scheduler or workers or client is not None:
        runs = _run_parallel(path, declared, outputs, checked, progress, log_output, timeout, html, scheduler,
                             workers, client)
    else:
        runs = [_run(path, declared, output, params, output.with_suffix(".json"), progress, log_output, timeout, html)
                for output, params in zip(outputs, checked)]
    atomic_write_text(folder / "batch.json", json.dumps(
        {"notebook": str(path), "runs": [r.to_json() for r in runs],
         "failed": sum(not r.ok for r in runs)}, indent=2, default=str))
    return runs


def _run(path: Path, declared: Mapping[str, Any], output: Path, params: dict[str, Any], summary_path,
         progress: bool, log_output: bool, timeout: int | None, html: bool = False) -> NotebookRun:
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    output = output.resolve()
    summary = Path(summary_path).resolve() if summary_path is not None else output.with_suffix(".json")
    params = dict(params)
    if "summary_path" in declared:
        params["summary_path"] = str(summary)
    if "show_progress" in declared:
        params.setdefault("show_progress", progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary.unlink(missing_ok=True)
    started = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(str(path), str(output), parameters=params, kernel_name=KERNEL_NAME,
                                   cwd=str(path.parent), progress_bar=False, log_output=log_output,
                                   execution_timeout=timeout, extra_arguments=KERNEL_ARGUMENTS,
                                   store_widget_state=False, kernel_manager_class=_kernel_manager_class())
    except papermill.PapermillExecutionError as exc:
        error = {"code": NOTEBOOK_FAILED, "message": f"{exc.ename}: {exc.evalue}"}
    except (DeadKernelError, CellTimeoutError) as exc:
        error = {"code": NOTEBOOK_FAILED, "message": f"{type(exc).__name__}: {exc}"}
    seconds = round(time.perf_counter() - started, 3)
    recorded = read_summary(summary) if error is None and summary.exists() else None
    report = str(export_html(output)) if html and output.exists() else None
    return NotebookRun(str(path), str(output), params, recorded, seconds, error, report)


def export_html(notebook: str | os.PathLike[str], target: str | os.PathLike[str] | None = None) -> Path:
    """Write an executed notebook as an HTML report that needs no network (default: beside it, ``.html``).

    The ``workbench-report`` template is nbconvert's lab template without the scripts it loads from a CDN;
    ``jupyter nbconvert --to html --template workbench-report`` with ``JUPYTER_PATH=notebooks/jupyter-data``
    gives the same file.
    """
    from nbconvert import HTMLExporter

    source = Path(notebook)
    target = Path(target) if target is not None else source.with_suffix(".html")
    exporter = HTMLExporter(template_name=REPORT_TEMPLATE,
                            extra_template_basedirs=[str(VOILA_DATA / "nbconvert" / "templates")])
    body, _ = exporter.from_filename(str(source))
    atomic_write_text(target, body)
    return target


@functools.cache
def _kernel_manager_class() -> type:
    """jupyter_client's kernel manager, less the SIGINT it sends before a shutdown request (see the module doc)."""
    from jupyter_client import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:   # a shutdown request follows; an interrupt would only be logged as an error
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


KERNEL_START_STAGGER = 1.5  # seconds between the first kernels of a parallel batch (papermill#511 port races)


def _run_parallel(path, declared, outputs, checked, progress, log_output, timeout, html, scheduler, workers,
                  client) -> list[NotebookRun]:
    """The runs as Dask tasks; the first wave starts staggered, and a run whose kernel failed to start retries."""
    from distributed import wait

    from workbench.fleet.engine import connect

    with connect(client, scheduler=scheduler, workers=workers, show_dashboard=progress) as dask:
        slots = max(1, len(dask.scheduler_info(n_workers=-1)["workers"]))
        futures = [dask.submit(_run_task, path, declared, output, params, progress, log_output, timeout, html,
                               KERNEL_START_STAGGER * i if i < slots else 0.0, pure=False)
                   for i, (output, params) in enumerate(zip(outputs, checked))]
        wait(futures)
        runs = []
        for future, output, params in zip(futures, outputs, checked):
            try:
                runs.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a lost worker: recorded like a failed run
                runs.append(NotebookRun(str(path), str(output.resolve()), params, None, 0.0,
                                        {"code": NOTEBOOK_FAILED, "message": f"{type(exc).__name__}: {exc}"}))
        return runs


def _run_task(path, declared, output, params, progress, log_output, timeout, html, delay) -> NotebookRun:
    """One run on a worker; a kernel that dies while starting (a port taken by a concurrent kernel) gets one retry."""
    import random

    time.sleep(delay)
    try:
        return _run(path, declared, output, params, output.with_suffix(".json"), progress, log_output, timeout, html)
    except RuntimeError:  # "Kernel died before replying to kernel_info": nothing of the notebook ran yet
        time.sleep(1.0 + 2.0 * random.random())
        return _run(path, declared, output, params, output.with_suffix(".json"), progress, log_output, timeout, html)


def _check_parameters(path: Path, declared: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(parameters, Mapping):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"parameters must be a mapping; got {type(parameters).__name__}")
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{path.name} has no parameter {', '.join(map(repr, unknown))}; "
                                                      f"it takes {', '.join(declared)}")
    return dict(parameters)


def _notebook(notebook: str | os.PathLike[str]) -> Path:
    path = Path(notebook)
    if path.suffix != ".ipynb":
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"expected an .ipynb notebook; got '{path}'")
    if not path.is_file():
        raise DataError(ErrorCode.DATA_SOURCE_NOT_FOUND, "notebook not found", file=str(path.absolute()))
    return path.resolve()


# ---------------------------------------------------------------- dashboard


def dashboard_command(*, port: int = 8866, notebook: str | os.PathLike[str] = DASHBOARD, ip: str = "127.0.0.1",
                      open_browser: bool = False) -> list[str]:
    """The Voila command that serves the dashboard (run it in the notebook's folder, where ``voila.json`` is,
    with :func:`dashboard_env`).  Voila serves on ``port`` or exits: it does not move to the next free port."""
    _check_port_number(port)
    path = _notebook(notebook)
    command = [sys.executable, "-m", "voila", path.name, f"--port={port}", f"--Voila.ip={ip}",
               "--Voila.port_retries=0"]
    return command + ([] if open_browser else ["--no-browser"])


def dashboard_env(home: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The environment for :func:`dashboard_command`: ``JUPYTER_PATH`` finds the workbench Voila template;
    ``home`` (if given) becomes ``WORKBENCH_HOME``."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(VOILA_DATA), env.get("JUPYTER_PATH", "")) if p)
    if home is not None:
        env["WORKBENCH_HOME"] = str(Path(home).expanduser().resolve())
    return env


def start_dashboard(*, port: int = 8866, home: str | os.PathLike[str] | None = None,
                    notebook: str | os.PathLike[str] = DASHBOARD, open_browser: bool = False,
                    **popen: Any) -> subprocess.Popen:
    """Start Voila on a dashboard notebook (registry ``home`` or ``$WORKBENCH_HOME``); the caller stops the process.

    A ``port`` that another process listens on is refused here (``BadArgument``) rather than served elsewhere;
    :func:`wait_for_dashboard` waits until it answers.
    """
    command = dashboard_command(port=port, notebook=notebook, open_browser=open_browser)
    _check_port_free(DASHBOARD_IP, port)
    return subprocess.Popen(command, cwd=_notebook(notebook).parent, env=dashboard_env(home), **popen)


DASHBOARD_IP = "127.0.0.1"


def dashboard_url(port: int) -> str:
    return f"http://{DASHBOARD_IP}:{port}/"


def wait_for_dashboard(process: subprocess.Popen, port: int, timeout: float = 120) -> str:
    """Wait until the dashboard ``process`` listens on ``port`` and return its URL; ``NotebookFailed`` if it exits
    first (Voila's own message is on its stderr) or does not listen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WorkbenchError(NOTEBOOK_FAILED, f"Voila exited with status {process.returncode} before serving "
                                                  f"port {port}")
        with socket.socket() as sock:
            if sock.connect_ex((DASHBOARD_IP, port)) == 0:
                return dashboard_url(port)
        time.sleep(0.2)
    raise WorkbenchError(NOTEBOOK_FAILED, f"Voila did not serve port {port} within {timeout:.0f} s")


def _check_port_number(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"port must be in 1..65535; got {port!r}")


def _check_port_free(ip: str, port: int) -> None:
    """Refuse a port another process listens on (bound as a server binds it, so a port in TIME_WAIT is free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"port {port} on {ip} is taken ({exc.strerror}): choose "
                                                          "another with --port, or stop what serves there") from None
