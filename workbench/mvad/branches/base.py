"""What every branch is: fit on training rows, per-variable errors for any rows, a state to save and load."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.params import Parameters


class Rows:
    """Normalised rows ``(T, V)``: float32 numpy, and the same on the torch device, made once when first read."""

    def __init__(self, values: np.ndarray, device: torch.device) -> None:
        self.values = np.ascontiguousarray(values, dtype=np.float32)
        self.device = device
        self._tensor: torch.Tensor | None = None

    @property
    def tensor(self) -> torch.Tensor:
        # not functools.cached_property: on Python 3.11 it takes one lock for every instance of the class,
        # which serialises the server's concurrent detections
        if self._tensor is None:
            self._tensor = torch.from_numpy(self.values).to(self.device)
        return self._tensor

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Fitting:
    """What a branch fits on."""

    rows: Rows             # every training row, normalised
    cut: int               # rows before it train the branch; rows from it are held out
    history: int           # rows before a row that the branch may read (what the sliding window leaves it)
    steps: np.ndarray      # per variable: the step of a two-valued column (its least error scale), else 0
    seed: int
    epochs: int
    on_epoch: Callable[[Any], None] | None = None

    @property
    def held_out(self) -> np.ndarray:
        return np.arange(self.cut, len(self.rows))


class Branch(Parameters):
    """One way to judge each variable at each row.  Subclasses set ``kind`` and take ``weight`` first.

    Fitted, a branch gives ``errors(rows, targets)``: ``(len(targets), V)`` float32 squared errors, each a
    ratio to the variable's error on the held-out rows (0 for a variable it does not judge), for sorted,
    consecutive target rows that each have ``fitting.history`` rows before them in ``rows``.
    """

    kind: ClassVar[str] = ""
    state_keys: ClassVar[tuple[str, ...]] = ()   # fitted array attributes saved as ``<kind>.<key>`` tensors
    weight: float

    def fit(self, fitting: Fitting) -> "Branch":
        self.check_params()
        self._fit(fitting)
        return self

    @property
    def active(self) -> bool:
        """Whether the fitted branch judges any variable (one that judges none is left out of the mix)."""
        return True

    def errors(self, rows: Rows, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_params(self) -> None:
        """Raise a ``BadArgument`` error for parameters that cannot work (before any training)."""
        if not (isinstance(self.weight, (int, float)) and self.weight >= 0):
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"the {self.kind} branch's weight must be >= 0")

    def step_work(self, n_vars: int) -> int:
        """Multiply-accumulates of one training step (what :mod:`workbench.runtime` sizes threads by)."""
        return 0

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, JSON-able facts)`` that :meth:`from_state` rebuilds the fitted branch from."""
        return {key: np.ascontiguousarray(getattr(self, key + "_")) for key in self.state_keys}, {}

    @classmethod
    def from_state(cls, params: dict[str, Any], tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> "Branch":
        branch = cls(**params)
        for key in cls.state_keys:
            setattr(branch, key + "_", np.asarray(tensors[key], dtype=np.float32))
        return branch

    def to(self, device: torch.device) -> "Branch":
        """Move what the branch scores with to ``device`` (a branch of numpy arrays has nothing to move)."""
        return self

    def _fit(self, fitting: Fitting) -> None:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """The JSON-able description saved with a model: ``{"kind": ..., **parameters}``."""
        return {"kind": self.kind, **self.get_params()}


_KINDS: dict[str, type[Branch]] = {}


def register(cls: type[Branch]) -> type[Branch]:
    """Make a branch class known by its ``kind`` (for specs and saved states); a class decorator."""
    _KINDS[cls.kind] = cls
    return cls


def branch_class(kind: str) -> type[Branch]:
    if kind not in _KINDS:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"unknown branch kind {kind!r}; known: {sorted(_KINDS)}")
    return _KINDS[kind]


def branch_from_spec(spec: "Branch | str | dict[str, Any]") -> Branch:
    """An unfitted branch from a spec: a ``Branch`` (copied), a kind (``"linear"``) or a dict
    (``{"kind": "linear", "weight": 0.3}``) as saved with a model or given as JSON."""
    if isinstance(spec, Branch):
        return copy.deepcopy(spec)
    if isinstance(spec, str):
        return branch_class(spec)()
    if isinstance(spec, dict) and isinstance(spec.get("kind"), str):
        cls = branch_class(spec["kind"])
        params = {k: v for k, v in spec.items() if k != "kind"}
        unknown = set(params) - set(cls._get_param_names())
        if unknown:
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"unknown {spec['kind']} branch parameter(s) {sorted(unknown)}; "
                                  f"known: {cls._get_param_names()}")
        return cls(**params)
    raise ValidationError(ErrorCode.BAD_ARGUMENT,
                          f"a branch is a Branch, a kind or a dict with a 'kind'; got {spec!r}")
