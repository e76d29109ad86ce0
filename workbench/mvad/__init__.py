"""Multivariate anomaly detection: the model, training jobs, batch and streaming inference."""
from workbench.mvad.api import MultivariateModel

__all__ = ["MultivariateModel"]
