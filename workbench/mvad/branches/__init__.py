"""The detector's branches: each judges every variable at every row in its own way.

A branch fits on the normalised training rows (the rows before ``cut``; the rows after it are held out),
then gives per-variable errors for any rows, each a ratio to that variable's error on the held-out rows,
so that branches mix on one footing.  It owns its defaults, its weight in the mix and the keys of its
state.  The product's branches:

* :class:`NetworkBranch` -- a forecaster and an autoencoder trained jointly (surprises in time, rows
  that break the variables' usual relations);
* :class:`LinearBranch` -- a PCA of the rows (a variable leaving the pattern it shares with others
  while staying in its range);
* :class:`AnalogBranch` -- what the hours before a row say it should be (a daily shape that breaks).

A study's candidate is a branch too: a subclass with its own ``kind`` handed to the same detector.
"""
from __future__ import annotations

from workbench.mvad.branches.analog import AnalogBranch
from workbench.mvad.branches.base import Branch, Fitting, Rows, branch_from_spec, register
from workbench.mvad.branches.linear import LinearBranch
from workbench.mvad.branches.network import NetworkBranch

DEFAULT_BRANCHES = ("network", "linear", "analog")

__all__ = ["AnalogBranch", "Branch", "DEFAULT_BRANCHES", "Fitting", "LinearBranch", "NetworkBranch", "Rows",
           "branch_from_spec", "register"]
