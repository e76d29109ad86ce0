"""A trained model on disk: ``weights.safetensors`` (tensors) + ``model.json`` (everything else).

Nothing is unpickled when loading: tensors come from safetensors and the rest
is plain JSON, so a model zip from someone else cannot run code.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench._atomic import atomic_path
from workbench.exceptions import DataError, ErrorCode, file_not_found

WEIGHTS = "weights.safetensors"
METADATA = "model.json"
FORMAT_VERSION = 1
MAX_ARCHIVE_BYTES = 2 * 1024**3


def dump(detector, document: dict[str, Any]) -> dict[str, bytes]:
    """The artifact's files as bytes (``weights.safetensors``, ``model.json``): what a worker hands back."""
    from safetensors.numpy import save

    tensors, meta = detector.get_state()
    payload = {"formatVersion": FORMAT_VERSION, "model": document, "detector": meta}
    return {WEIGHTS: save({k: np.ascontiguousarray(v) for k, v in tensors.items()}),
            METADATA: json.dumps(payload).encode("utf-8")}


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write the artifact's files into ``folder`` (the caller makes the folder appear atomically)."""
    for name in (WEIGHTS, METADATA):
        (folder / name).write_bytes(files[name])


def save_model(folder: Path, detector, document: dict[str, Any]) -> None:
    write_files(folder, dump(detector, document))


def load_files(files: Mapping[str, bytes], label: str = "model artifact"):
    """(detector, model document) from the bytes :func:`dump` made."""
    return _load(lambda name: files[name], label)


def load_model(folder: Path):
    """(detector, model document) from an artifact folder."""
    return _load(lambda name: (folder / name).read_bytes(), str(folder))


def export_zip(folder: Path, target: str | Path) -> Path:
    """Zip an artifact folder atomically; the zip holds all that prediction elsewhere needs."""
    target = Path(target)
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (WEIGHTS, METADATA):
            archive.write(folder / name, name)
    return target


def read_zip(source: str | Path):
    """(detector, model document) from an exported zip, after checking its members."""
    label = str(source)
    if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
        raise file_not_found(source, "the model zip")
    try:
        archive = zipfile.ZipFile(source)
        names = sorted(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(ErrorCode.INVALID_MODEL_ARCHIVE, f"not a readable model zip ({exc})", file=label) from exc
    if names != sorted([WEIGHTS, METADATA]):
        raise DataError(ErrorCode.INVALID_MODEL_ARCHIVE,
                        f"a model zip holds exactly {WEIGHTS} and {METADATA}; found {names}", file=label)
    if sum(i.file_size for i in archive.infolist()) > MAX_ARCHIVE_BYTES:
        raise DataError(ErrorCode.INVALID_MODEL_ARCHIVE, "the model zip expands beyond 2 GiB", file=label)
    return _load(lambda name: archive.read(name), label)


def _load(read, label: str):
    from safetensors.numpy import load as load_tensors

    from workbench.mvad.detector import MultivariateDetector

    try:
        payload = json.loads(read(METADATA))
        tensors = load_tensors(read(WEIGHTS))
        if payload.get("formatVersion") != FORMAT_VERSION:
            raise ValueError(f"unsupported formatVersion {payload.get('formatVersion')!r}")
        detector = MultivariateDetector.from_state(tensors, payload["detector"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(ErrorCode.INVALID_MODEL_ARCHIVE, f"the model files are unreadable ({exc})", file=label) from exc
    return detector, payload["model"]

