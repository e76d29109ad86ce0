"""``workbench serve --workers N``: the same app in N uvicorn worker processes sharing one registry on disk.

The registry is SQLite in WAL mode plus artifact folders written to a temporary name and renamed whole, so
every worker reads the same model and job status; a training or batch job runs in the one process whose
request created it.  Each worker builds its app from the settings the parent put in ``SETTINGS_ENV``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from fastapi import FastAPI

from workbench.server.app import ServerSettings, create_app

SETTINGS_ENV = "WORKBENCH_SERVE_SETTINGS"


def settings_to_env(settings: ServerSettings) -> None:
    """Put ``settings`` where the worker processes (children of this one) read them."""
    values = dataclasses.asdict(settings)
    values["home"] = None if settings.home is None else str(settings.home)
    values["data_roots"] = [str(p) for p in settings.data_roots]
    values["blob_hosts"] = list(settings.blob_hosts)
    os.environ[SETTINGS_ENV] = json.dumps(values)


def settings_from_env() -> ServerSettings:
    values = json.loads(os.environ[SETTINGS_ENV])
    values["home"] = None if values["home"] is None else Path(values["home"])
    values["data_roots"] = tuple(Path(p) for p in values["data_roots"])
    values["blob_hosts"] = tuple(values["blob_hosts"])
    return ServerSettings(**values)


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn's ``factory``)."""
    return create_app(settings_from_env())
