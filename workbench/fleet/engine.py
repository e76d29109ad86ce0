"""The distributed engine a fleet runs on: a Dask ``Client`` to an embedded LocalCluster or an existing cluster.

By default the workbench starts a ``LocalCluster`` of processes (as many workers as cores, one thread and one
torch thread each) and closes it when the run ends.  ``scheduler="tcp://host:8786"`` connects to a running
cluster instead (``dask scheduler`` / ``dask worker``, the Dask Kubernetes operator, Dask Gateway), and a
``Client`` passed in is used as it is and left open.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workbench.exceptions import ErrorCode, ValidationError

TORCH_PLUGIN = "workbench-torch-threads"


def default_workers() -> int:
    """Workers of an embedded cluster: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_engine(client: Any = None, scheduler: str | None = None, workers: Any = None) -> None:
    """The engine arguments of a fleet run, checked before any work is done or recorded."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"workers must be a positive integer; got {workers!r}")
    if client is not None and scheduler:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "pass either a Dask client or a scheduler address, not both")


def open_client(scheduler: str | None = None, *, workers: int | None = None, threads: int = 1,
                show_dashboard: bool = True):
    """A ``distributed.Client``: to ``scheduler``, or to a new LocalCluster that ``client.close()`` shuts down.

    For notebooks that run several fleet steps on one engine; pass it as ``client=`` and close it at the end.
    """
    from distributed import Client

    check_engine(None, scheduler, workers)
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"cannot reach the Dask scheduler at {scheduler} "
                                  f"({exc})") from exc
    else:
        client = Client(n_workers=int(workers or default_workers()), threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=logging.ERROR)
    client.register_plugin(TorchThreads(threads), name=TORCH_PLUGIN)
    if show_dashboard and (scheduler or _has_dashboard()):
        print(f"Dask dashboard: {client.dashboard_link}")
    return client


@contextmanager
def connect(client: Any = None, *, scheduler: str | None = None, workers: int | None = None,
            threads: int = 1, show_dashboard: bool = True) -> Iterator[Any]:
    """The client for one fleet run: ``client`` as given (left open), else one :func:`open_client` closes after."""
    check_engine(client, scheduler, workers)
    if client is not None:
        client.register_plugin(TorchThreads(threads), name=TORCH_PLUGIN)
        yield client
        return
    owned = open_client(scheduler, workers=workers, threads=threads, show_dashboard=show_dashboard)
    try:
        yield owned
    finally:
        owned.close()


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401  (the Dask dashboard needs it)
    except ImportError:
        return False
    return True


def _plugin_base():
    from distributed.diagnostics.plugin import WorkerPlugin

    return WorkerPlugin


class TorchThreads(_plugin_base()):
    """Set torch to a fixed number of threads on every worker (parallelism comes from the workers)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = int(threads)

    def setup(self, worker) -> None:
        from workbench import runtime

        runtime.use_threads(self.threads)
