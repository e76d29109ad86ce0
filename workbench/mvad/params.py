"""Constructor parameters as scikit-learn reads them: names from the signature, values as stored.

The detector, its branches and its flag rule only store their parameters in ``__init__``; ``get_params``
reads them back by the signature's names, ``set_params`` sets known ones, and ``spec`` is the JSON-able
form saved with a model (nested parts as their own specs).
"""
from __future__ import annotations

import inspect
from typing import Any

from workbench.exceptions import ErrorCode, ValidationError


class Parameters:
    """``get_params`` / ``set_params`` from the constructor's signature."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, read from the signatures (a subclass's own ones included).

        A subclass whose ``__init__`` takes ``**params`` for the rest adds its named parameters
        to those of the class it passes them to, as scikit-learn's ``get_params`` expects.
        """
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
            names += [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                      and p.name not in names]
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                break
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any):
        """Set constructor parameters (refit to apply them); unknown names raise."""
        known = self._get_param_names()
        for name, value in params.items():
            if name not in known:
                raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                      f"unknown {type(self).__name__} parameter {name!r}; known: {known}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, inspect.Parameter.empty)
                   is inspect.Parameter.empty or not _same(defaults[k], v)]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and the like: shown
        return False


def check(checks: list[tuple[bool, str]]) -> None:
    """Raise a ``BadArgument`` ``ValidationError`` with the message of the first check that fails."""
    for ok, message in checks:
        if not ok:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, message)
