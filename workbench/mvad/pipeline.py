"""The core's plain functions, callable in any process (a job thread, a server, a Dask worker).

A training job and a fleet worker run the same four steps: :func:`prepare_training` reads and
aligns the request's data, :func:`fit_detector` trains a detector on it, ``artifacts.dump``
serialises it (safetensors + JSON, no pickle) and :func:`detect` scores prepared data.  None of
them touches the registry: where a result is stored is the application layer's business.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Callable

import numpy as np
import pandas as pd

from workbench import data
from workbench.contracts import EPOCHS_DEFAULT, ModelInfo
from workbench.data import CsvDialect, PreparedData, SourcePolicy
from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.detector import EpochReport, MultivariateDetector
from workbench.mvad.inference import Detections, check_variables, score_frame


def prepare_training(request: ModelInfo, frame: pd.DataFrame | None = None,
                     source_policy: SourcePolicy | None = None, dialect: CsvDialect = CsvDialect()) -> PreparedData:
    """The training data of a v1.1 request: ``frame`` if given, else its ``dataSource`` (CSVs written in
    ``dialect``), aligned and clipped."""
    needed = request.sliding_window + 1  # one full window; the detector checks what it needs beyond that
    if frame is not None:
        return data.from_frame(frame, start_time=request.start_time, end_time=request.end_time,
                               align_policy=request.align_policy, min_timestamps=needed, decimal=dialect.decimal)
    return data.load(request.data_source, request.data_schema, start_time=request.start_time,
                     end_time=request.end_time, align_policy=request.align_policy, min_timestamps=needed,
                     source_policy=source_policy, sep=dialect.sep, decimal=dialect.decimal)


def check_training_arguments(detector_params: Mapping[str, Any], *, sliding_window: int, epochs: int, seed: int,
                             caller: str, own: Iterable[str] = ()) -> None:
    """A front door's training arguments, checked before anything is read or registered.

    A name the detector does not take is the ``TypeError`` Python gives for a misspelt keyword (naming
    ``caller`` and the closest of its ``own`` or the detector's names); a bad value is a ``ValidationError``.
    """
    known = list(MultivariateDetector().get_params())
    for name in detector_params:
        if name not in known or name in ("sliding_window", "epochs", "seed"):
            close = difflib.get_close_matches(name, [*own, *known], n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{hint}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"seed must be an integer; got {seed!r}")
    if isinstance(epochs, bool):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"epochs must be an integer >= 1; got {epochs!r}")
    MultivariateDetector(sliding_window=sliding_window, epochs=epochs, seed=seed, **detector_params).check_params()


def fit_detector(prepared: PreparedData, sliding_window: int, *, epochs: int = EPOCHS_DEFAULT, seed: int = 0,
                 on_epoch: Callable[[EpochReport], None] | None = None,
                 **detector_params: Any) -> MultivariateDetector:
    """A detector trained on prepared data (extra keyword arguments go to :class:`MultivariateDetector`)."""
    detector = MultivariateDetector(sliding_window=sliding_window, epochs=epochs, seed=seed, **detector_params)
    return detector.fit(prepared.frame.to_numpy(), prepared.variables, on_epoch=on_epoch)


def prepare_detection(model_info: ModelInfo, data_source: str, start_time=None, end_time=None,
                      source_policy: SourcePolicy | None = None, dialect: CsvDialect = CsvDialect()) -> PreparedData:
    """Inference data read with the model's schema and align policy (rows before ``start_time`` kept as history)."""
    return data.load(data_source, model_info.data_schema, start_time=start_time, end_time=end_time,
                     align_policy=model_info.align_policy, source_policy=source_policy, sep=dialect.sep,
                     decimal=dialect.decimal)


def detect(detector: MultivariateDetector, prepared: PreparedData, top_k: int) -> Detections:
    """Score the requested rows of prepared data, using earlier rows of the source as history."""
    check_variables(list(detector.variables_), prepared.variables)
    history = prepared.history.frame[list(detector.variables_)]
    first_row = int(np.searchsorted(history.index.asi8, prepared.frame.index[0].value))
    last_row = int(np.searchsorted(history.index.asi8, prepared.frame.index[-1].value, side="right"))
    return score_frame(detector, history.iloc[:last_row], first_row, top_k)
