"""The notebooks' side of the workbench: the papermill/Voila runner, the helpers the cells call, their summaries.

:mod:`.runner` runs notebooks headless and serves the dashboard; :mod:`.helpers` holds what the
cells call; :mod:`.summary` writes and reads the JSON summary every notebook ends with.  The
notebooks import from this package (``from workbench.notebooks import write_summary``).
"""
from workbench.notebooks.helpers import (
    ExportedFiles, anomaly_interpretation, contributors_title, detection_data, evaluate_labels, export_result,
    model_or_fit, models_table, open_registry, read_labels, ready_detections, require_ready, result_data,
)
from workbench.notebooks.runner import (
    DASHBOARD, NOTEBOOK_FAILED, NOTEBOOKS_DIR, NotebookRun, coerce_parameters, dashboard_command, dashboard_env,
    export_html, notebook_parameters,
    dashboard_url, read_parameter_sets, run_batch, run_notebook, start_dashboard, wait_for_dashboard,
)
from workbench.notebooks.summary import read_summary, write_summary

__all__ = [
    "DASHBOARD", "NOTEBOOKS_DIR", "NOTEBOOK_FAILED", "ExportedFiles", "NotebookRun", "anomaly_interpretation",
    "coerce_parameters", "contributors_title", "dashboard_command", "dashboard_env", "dashboard_url", "detection_data",
    "evaluate_labels", "export_html", "export_result", "model_or_fit", "models_table", "notebook_parameters",
    "open_registry", "read_labels", "read_parameter_sets", "read_summary", "ready_detections",
    "require_ready", "result_data", "run_batch", "run_notebook", "start_dashboard", "wait_for_dashboard", "write_summary",
]
