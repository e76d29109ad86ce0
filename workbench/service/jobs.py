"""One way to run a job (training or batch detection): now or in the background, with one failure path.

A job's body raises; :func:`submit` turns a coded :class:`~workbench.exceptions.WorkbenchError`
into its v1.1 ``{code, message}`` and any other exception (a bug, memory) into ``failure_code``
with the traceback in the log, and hands it to the job's ``fail`` callback, so the registry
never shows a job RUNNING that has stopped.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from workbench.contracts import ErrorResponse
from workbench.exceptions import WorkbenchError, error_of

log = logging.getLogger(__name__)


def submit(body: Callable[[], None], fail: Callable[[ErrorResponse], None], *, failure_code: str, name: str,
           wait: bool, executor: Executor | None = None) -> None:
    """Run ``body`` in this thread (``wait``), on ``executor``, or in a thread of its own."""
    def run() -> None:
        try:
            body()
        except Exception as exc:  # keep the registry truthful; an uncoded failure's traceback goes to the log
            if not isinstance(exc, WorkbenchError):
                log.exception("%s failed", name)
            fail(ErrorResponse(**error_of(exc, failure_code)))

    if wait:
        run()
    elif executor is not None:
        executor.submit(run)
    else:
        threading.Thread(target=run, name=name, daemon=True).start()
