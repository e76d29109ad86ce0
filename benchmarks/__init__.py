"""Benchmarks: accuracy, speed and scale of the workbench against Microsoft's time-series-anomaly-detector 0.4.0.

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md``.
"""
