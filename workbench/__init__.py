"""Anomaly Workbench: local multivariate and univariate anomaly detection with the Anomaly Detector v1.1 contract."""
__version__ = "0.1.0"
