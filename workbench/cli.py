"""The ``workbench`` command: a thin layer over the Python API, one subcommand per task.

Subcommands print a short summary on stdout (``--json``: the v1.1 body); a failure, including a
training or detection job that ends FAILED, prints ``error [Code] message`` on stderr and exits
with status 2.  A ``model_id`` argument may be any unique prefix of the id (the 8 characters shown).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from enum import Enum
from typing import Any, Callable, Sequence

from workbench import __version__, cli_text
from workbench.contracts import (
    EPOCHS_DEFAULT, FLEET_ATTENTION_SEVERITY, SLIDING_WINDOW_DEFAULT, AlignMode, DataSchema, FillNAMethod,
    TimeGranularity,
)
from workbench.exceptions import WorkbenchError

Handler = Callable[[argparse.Namespace], object]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        try:
            if getattr(args, "model_id", None):
                args.model_id = _resolve_model_id(args)
            output = args.handler(args)
        except WorkbenchError as exc:
            print(f"error {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        if output is not None:
            print(_render(args, output))
        sys.stdout.flush()
        failure = getattr(args, "failure", None)
        error = failure(output) if failure is not None and output is not None else None
        if error is not None:
            print(f"error {error}", file=sys.stderr)
            return 2
        return 0
    except BrokenPipeError:  # the reader went away (``workbench models list | head -1``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell tool killed by the closed pipe reports


def _render(args: argparse.Namespace, output: object) -> str:
    """The summary the subcommand defines, or the JSON body with ``--json`` (and where it has no summary)."""
    render = getattr(args, "render", None)
    if render is None or getattr(args, "json", False):
        view = getattr(args, "json_view", None)
        return json.dumps(view(args, output) if view else output, indent=2)
    return render(args, output)


def _resolve_model_id(args: argparse.Namespace) -> str:
    from workbench.service.registry import Registry

    return Registry(args.home).resolve_model_id(args.model_id)


def _add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full v1.1 JSON body instead of a summary")


def _enum_option(enum_cls: type[Enum]) -> dict[str, Any]:
    """argparse ``type``/``choices`` from a contract enum, matched in any case as the Python API does."""
    values = [member.value for member in enum_cls]

    def convert(text: str) -> str:
        return next((v for v in values if v.lower() == text.lower()), text)  # argparse lists the choices if none

    convert.__name__ = enum_cls.__name__
    return {"type": convert, "choices": values}


def _job_failure(document: dict) -> WorkbenchError | None:
    """A model or detection result that ended FAILED, as the error the command exits with."""
    from workbench.contracts import DetectionResult, Model, ModelStatus

    if "modelInfo" in document:
        model = Model.from_json(document)
        status, errors, what = model.model_info.status, model.model_info.errors, f"model {model.model_id}"
    elif "summary" in document:
        result = DetectionResult.from_json(document)
        status, errors, what = result.summary.status, result.summary.errors, f"detection {result.result_id}"
    else:
        return None
    if status is not ModelStatus.FAILED:
        return None
    first = errors[0] if errors else None
    return WorkbenchError(first.code if first else "Failed",
                          f"{what} FAILED: {first.message if first else 'no reason recorded'}")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Local multivariate (MVAD) and univariate anomaly detection with the Anomaly Detector v1.1 "
                    "contract. Each subcommand mirrors a function of the Python API.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--home", help="registry folder for models and results (default $WORKBENCH_HOME or "
                                       "~/.workbench)")
    sub = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for register in _REGISTRY:
        register(sub)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_source", help="OneTable CSV, MultiTable folder or zip, file:// or https:// blob URL")
    parser.add_argument("--schema", "--data-schema", dest="data_schema", default=DataSchema.ONE_TABLE.value,
                        **_enum_option(DataSchema), help="dataSchema, any case (default: OneTable)")
    parser.add_argument("--start-time", help="startTime (ISO-8601; clipped to the data)")
    parser.add_argument("--end-time", help="endTime (ISO-8601; clipped to the data; not before startTime)")


def _add_align_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--align-mode", default=AlignMode.OUTER.value, **_enum_option(AlignMode),
                        help="alignMode, any case (default Outer)")
    parser.add_argument("--fill-na-method", default=FillNAMethod.LINEAR.value, **_enum_option(FillNAMethod),
                        help="fillNAMethod, any case (default Linear)")
    parser.add_argument("--padding-value", type=float, help="paddingValue (required with --fill-na-method Fixed)")


def _add_dialect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sep", default=",", help="column separator of the CSV files (default ','; ';' or '\\t' "
                                                   "for files saved that way)")
    parser.add_argument("--decimal", default=".", choices=[".", ","], help="decimal mark of the numbers (default '.')")


def _dialect(args: argparse.Namespace) -> dict:
    """``sep``/``decimal`` keyword arguments from ``--sep``/``--decimal`` (``\\t`` or ``tab`` for tabs)."""
    return {"sep": "\t" if args.sep in ("\\t", "tab") else args.sep, "decimal": args.decimal}


def _align_policy(args: argparse.Namespace) -> dict:
    policy = {"alignMode": args.align_mode, "fillNAMethod": args.fill_na_method}
    if args.padding_value is not None:
        policy["paddingValue"] = args.padding_value
    return policy


# ---------------------------------------------------------------- prepare


def _register_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare", help="validate and align data; print a summary (--json: variableStates and gaps)",
        description="Read a data source the way training would (validation, alignMode, fillNAMethod, startTime/"
                    "endTime clipping) and print a summary: the range, the variables, the highest filledNARatio and "
                    "the gaps where every variable is missing (--json: every variable's filledNARatio, "
                    "effectiveCount and first/last timestamps, and the gaps). Optionally write the aligned table as "
                    "a OneTable CSV.",
    )
    _add_data_arguments(p)
    _add_align_arguments(p)
    _add_dialect_arguments(p)
    p.add_argument("--output", "-o", help="write the aligned data here as a OneTable CSV (atomically)")
    _add_json_flag(p)
    p.set_defaults(handler=_prepare, render=lambda a, out: cli_text.prepare_text(out, a.output))


def _prepare(args: argparse.Namespace) -> dict:
    from workbench import data
    from workbench._atomic import atomic_path
    from workbench.contracts import format_timestamp

    prepared = data.load(args.data_source, args.data_schema, start_time=args.start_time, end_time=args.end_time,
                         align_policy=_align_policy(args), **_dialect(args))
    if args.output:
        with atomic_path(args.output) as tmp:
            prepared.frame.rename_axis("timestamp").to_csv(tmp, date_format="%Y-%m-%dT%H:%M:%SZ")
    index = prepared.frame.index
    return {
        "timestamps": len(prepared.frame),
        "firstTimestamp": format_timestamp(index[0]),
        "lastTimestamp": format_timestamp(index[-1]),
        "variables": prepared.variables,
        "variableStates": [s.to_json() for s in prepared.variable_states],
        "gaps": [{"start": format_timestamp(g.start), "end": format_timestamp(g.end), "timestamps": int(g.timestamps),
                  "seconds": g.duration.total_seconds(), "filled": bool(g.filled)} for g in prepared.gaps.itertuples()],
        "warnings": prepared.warnings,
    }


# ---------------------------------------------------------------- zip-upload


def _register_zip_upload(sub) -> None:
    p = sub.add_parser(
        "zip-upload", help="zip a folder of per-variable CSVs and upload it to Azure Blob Storage",
        description="Compress the CSV files of a folder into one flat zip (MultiTable), upload it to a blob "
                    "container (created if missing) and print a read-only SAS URL to use as dataSource.",
    )
    p.add_argument("--source-folder", "-s", required=True, help="folder holding one CSV per variable")
    p.add_argument("--zipfile-name", "-z", required=True, help="name of the zip file (also the blob name)")
    p.add_argument("--connection-string", "-c", required=True,
                   help="Azure Storage connection string (Azurite's works too)")
    p.add_argument("--container-name", "-n", required=True, help="blob container name")
    p.add_argument("--remove-zipfile", "-r", action="store_true", help="delete the local zip after uploading")
    p.add_argument("--sas-hours", type=float, default=24 * 7, help="SAS validity in hours (default 168)")
    p.set_defaults(handler=_zip_upload)


def _zip_upload(args: argparse.Namespace) -> dict:
    from workbench.data.blob import zip_and_upload

    url = zip_and_upload(args.source_folder, args.zipfile_name, args.connection_string, args.container_name,
                         remove_zipfile=args.remove_zipfile, sas_hours=args.sas_hours)
    return {"dataSource": url, "dataSchema": "MultiTable"}


# ---------------------------------------------------------------- multivariate models


def _client(args: argparse.Namespace):
    from workbench.client import AnomalyDetectorClient

    return AnomalyDetectorClient(args.home)


_MODEL_ID_HELP = "model id, or any unique prefix of it (such as the 8 characters 'models list' shows)"


def _model_summary(args: argparse.Namespace, document: dict) -> str:
    return cli_text.model_text(document, errors=getattr(args, "failure", None) is None)  # else on stderr


def _models_table(args: argparse.Namespace, page: dict) -> str:
    return cli_text.models_table(page)


def _detection_summary(args: argparse.Namespace, result: dict) -> str:
    return cli_text.detection_text(result, args.output, errors=False)  # a FAILED one exits with its error


def _register_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train a multivariate model (v1.1 training request)",
        description="Train an MVAD model on a data source and register it. The data is read and checked first "
                    "(bad data exits 2 with its coded error and registers nothing); then it trains, waits for READY "
                    "or FAILED and prints a summary (--json: the v1.1 model JSON with diagnosticsInfo and "
                    "variableStates); exits 2 if the model ends FAILED. To train in the background, run it in the "
                    "shell's background and follow it with 'models list'.",
    )
    _add_data_arguments(p)
    _add_align_arguments(p)
    _add_dialect_arguments(p)
    p.add_argument("--sliding-window", type=int, default=SLIDING_WINDOW_DEFAULT,
                   help=f"slidingWindow, 28..2880 (default {SLIDING_WINDOW_DEFAULT})")
    p.add_argument("--display-name", default="", help="displayName")
    p.add_argument("--epochs", type=int, default=EPOCHS_DEFAULT, help=f"training epochs (default {EPOCHS_DEFAULT})")
    _add_json_flag(p)
    p.set_defaults(handler=_train, render=_model_summary, failure=_job_failure)


def _train(args: argparse.Namespace) -> dict:
    body = {"dataSource": args.data_source, "dataSchema": args.data_schema, "slidingWindow": args.sliding_window,
            "alignPolicy": _align_policy(args), "displayName": args.display_name}
    if args.start_time:
        body["startTime"] = args.start_time
    if args.end_time:
        body["endTime"] = args.end_time
    return _client(args).train_multivariate_model(body, wait=True, epochs=args.epochs, read_first=True,
                                                  **_dialect(args))


def _register_models(sub) -> None:
    p = sub.add_parser("models", help="list, show, delete, export and import models",
                       description="Manage the model registry.")
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    listing = actions.add_parser("list", help="list models, newest first", description="List models, newest first.")
    listing.add_argument("--skip", type=int, default=0, help="models to skip (default 0)")
    listing.add_argument("--top", type=int, default=10, help="models to return (default 10)")
    _add_json_flag(listing)
    listing.set_defaults(handler=lambda a: _client(a).list_multivariate_models(skip=a.skip, top=a.top),
                         render=_models_table)
    get = actions.add_parser("get", help="show one model", description="Show a model's summary (--json: its v1.1 "
                                                                        "JSON).")
    get.add_argument("model_id", help=_MODEL_ID_HELP)
    _add_json_flag(get)
    get.set_defaults(handler=lambda a: _client(a).get_multivariate_model(a.model_id), render=_model_summary)
    delete = actions.add_parser("delete", help="delete a model", description="Delete a model and its files.")
    delete.add_argument("model_id", help=_MODEL_ID_HELP)
    delete.set_defaults(handler=lambda a: _client(a).delete_multivariate_model(a.model_id))
    export = actions.add_parser("export", help="export a model to a zip",
                                description="Write a READY model to a zip that predicts elsewhere.")
    export.add_argument("model_id", help=_MODEL_ID_HELP)
    export.add_argument("path", help="zip file to write")
    export.set_defaults(handler=lambda a: {"path": str(_client(a).export_model(a.model_id, a.path))})
    imported = actions.add_parser("import", help="import a model zip", description="Register an exported model zip.")
    imported.add_argument("path", help="zip file made by 'models export'")
    imported.set_defaults(handler=lambda a: _client(a).import_model(a.path))


def _register_detect(sub) -> None:
    p = sub.add_parser(
        "detect", help="batch detection (detect-batch) with a trained model",
        description="Score a data source with a READY model and print a summary: anomaly count and the most severe "
                    "anomalies (--json or --output: the v1.1 result, one entry per timestamp). Rows before "
                    "--start-time serve as history. The data is read and checked first (bad data exits 2 with its "
                    "coded error and registers no result); exits 2 if the detection ends FAILED.",
    )
    p.add_argument("model_id", help=_MODEL_ID_HELP)
    p.add_argument("data_source", help="data source with exactly the model's variables (the model's dataSchema)")
    p.add_argument("--start-time", help="startTime (ISO-8601)")
    p.add_argument("--end-time", help="endTime (ISO-8601)")
    p.add_argument("--top-contributor-count", type=int, default=10, help="contributors per anomaly (default 10)")
    _add_dialect_arguments(p)
    p.add_argument("--output", "-o", help="write the result JSON here (atomically) instead of printing it")
    _add_json_flag(p)
    p.set_defaults(handler=_detect, render=_detection_summary, json_view=_detection_json, failure=_job_failure)


def _detect(args: argparse.Namespace) -> dict:
    body = {"dataSource": args.data_source, "topContributorCount": args.top_contributor_count}
    if args.start_time:
        body["startTime"] = args.start_time
    if args.end_time:
        body["endTime"] = args.end_time
    result = _client(args).detect_multivariate_batch_anomaly(args.model_id, body, wait=True, read_first=True,
                                                             **_dialect(args))
    if args.output:
        from workbench._atomic import atomic_write_text

        atomic_write_text(args.output, json.dumps(result))
    return result


def _detection_json(args: argparse.Namespace, result: dict) -> dict:
    if args.output:
        from workbench.contracts import DetectionResult

        summary = DetectionResult.from_json(result).summary
        return {"resultId": result["resultId"], "status": summary.status.value, "output": args.output}
    return result


def _register_detect_last(sub) -> None:
    p = sub.add_parser(
        "detect-last", help="streaming detection (detect-last) of the latest timestamp",
        description="Post a v1.1 detect-last body (a JSON file with 'variables' and 'topContributorCount') to a "
                    "READY model and print variableStates and the result for the latest timestamp.",
    )
    p.add_argument("model_id", help=_MODEL_ID_HELP)
    p.add_argument("body", help="JSON file with the detect-last request body")
    _add_json_flag(p)
    p.set_defaults(handler=_detect_last, render=lambda a, out: cli_text.last_detection_text(out))


def _detect_last(args: argparse.Namespace) -> dict:
    return _client(args).detect_multivariate_last_anomaly(args.model_id, _read_body(args.body))


def _read_body(path: str) -> object:
    """A v1.1 request body from a JSON file, with a clear error if it cannot be read."""
    from workbench.exceptions import DataError, ErrorCode

    from workbench.exceptions import file_not_found

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise file_not_found(path, "the request body file") from None
    except (OSError, ValueError) as exc:
        raise DataError(ErrorCode.BAD_ARGUMENT, f"cannot read the request body ({exc})", file=path) from exc


# ---------------------------------------------------------------- univariate

_UNIVARIATE = {
    "entire": ("detect_univariate_entire_series", "expected value, margins and anomaly flags for every point"),
    "last": ("detect_univariate_last_point", "whether the latest point is an anomaly"),
    "changepoint": ("detect_univariate_change_point", "trend change points and their confidence"),
}
# request fields each kind takes from the command line: (option, v1.1 field, type, help)
_UNIVARIATE_FIELDS = {
    "detection": [("--sensitivity", "sensitivity", int, "0-99; lower widens the margins (default 99)"),
                  ("--max-anomaly-ratio", "maxAnomalyRatio", float, "at most this share flagged (default 0.25)")],
    "changepoint": [("--stable-trend-window", "stableTrendWindow", int,
                     "shortest stable trend on either side of a change point (default by granularity)"),
                    ("--threshold", "threshold", float, "0.01-0.99; higher keeps fewer change points (default 0.9)")],
}


def _register_univariate(sub) -> None:
    p = sub.add_parser(
        "univariate", help="univariate detection: entire series, last point, change points",
        description="Detect on one series: a v1.1 request body (a .json file with 'series', 'granularity', ...) or "
                    "a CSV with a 'timestamp' column (timestamp,value, or a OneTable CSV and --column). Prints a "
                    "summary with the timestamps found (--json: the v1.1 response).",
    )
    kinds = p.add_subparsers(title="kinds", metavar="KIND")
    for kind, (method, what) in _UNIVARIATE.items():
        k = kinds.add_parser(kind, help=what, description=f"Detect {what} ({method}). Options given here override "
                                                          "the request body's fields.")
        k.add_argument("input", help="a v1.1 request body (.json) or a CSV with a 'timestamp' column")
        k.add_argument("--column", help="the CSV column to detect on (needed when the CSV has several)")
        k.add_argument("--granularity", **_enum_option(TimeGranularity),
                       help="the series' granularity (default: the CSV's most common step)")
        k.add_argument("--custom-interval", type=int, help="granularity steps between points, e.g. 5 for 5 minutes")
        k.add_argument("--period", type=int, help="the seasonal period in points (0: none; default: detected)")
        for option, field, kind_type, text in _UNIVARIATE_FIELDS["changepoint" if kind == "changepoint" else
                                                                   "detection"]:
            k.add_argument(option, dest=field, type=kind_type, help=text)
        _add_dialect_arguments(k)
        _add_json_flag(k)
        k.set_defaults(handler=lambda a, m=method, kind=kind: _univariate(a, m, kind),
                       render=lambda a, out, kind=kind: cli_text.univariate_text(kind, out, a.timestamps))


def _univariate(args: argparse.Namespace, method: str, kind: str) -> dict:
    body = _univariate_body(args, kind)  # a bad file or column fails before the client loads
    return getattr(_client(args), method)(body)


def _univariate_body(args: argparse.Namespace, kind: str) -> object:
    """The v1.1 request: the JSON body as given or built from a CSV column, the command line's fields
    over it; the request's timestamps are kept on ``args`` for the summary."""
    fields = {"granularity": args.granularity, "customInterval": args.custom_interval, "period": args.period}
    for _, field, _, _ in _UNIVARIATE_FIELDS["changepoint" if kind == "changepoint" else "detection"]:
        fields[field] = getattr(args, field)
    fields = {name: value for name, value in fields.items() if value is not None}
    if args.input.lower().endswith(".json"):
        body = _read_body(args.input)
        if isinstance(body, dict):
            body = {**body, **fields}
    else:
        body = _csv_body(args, kind, fields)
    series = body.get("series") if isinstance(body, dict) else None
    stamps = [point.get("timestamp") if isinstance(point, dict) else None for point in series or []]
    args.timestamps = stamps if stamps and all(isinstance(t, str) for t in stamps) else None
    return body


def _csv_body(args: argparse.Namespace, kind: str, fields: dict) -> dict:
    """One column of a CSV with a 'timestamp' column as a v1.1 request body (granularity inferred from
    its most common step unless given); empty cells are missing points."""
    from workbench.contracts import UnivariateChangePointDetectionOptions, UnivariateDetectionOptions
    from workbench.data.sources import resolve
    from workbench.data.tables import CsvDialect, read_variables
    from workbench.exceptions import DataError, ErrorCode
    from workbench.timegrid import infer_granularity

    raw = resolve(args.input, DataSchema.ONE_TABLE)
    columns = read_variables(raw, CsvDialect.of(**_dialect(args)))
    name = args.column or (next(iter(columns)) if len(columns) == 1 else None)
    if name not in columns:
        listed = ", ".join(list(columns)[:10]) + (", ..." if len(columns) > 10 else "")
        wanted = f"there is no column {name!r}" if name else f"the CSV has {len(columns)} columns"
        raise DataError(ErrorCode.BAD_ARGUMENT, f"{wanted} ({listed}): choose one with --column", file=args.input)
    series = columns[name]
    if "granularity" not in fields:
        granularity, interval = infer_granularity(series.index[series.notna().to_numpy()])
        fields = {"granularity": granularity, "customInterval": interval, **fields}
    options = UnivariateChangePointDetectionOptions if kind == "changepoint" else UnivariateDetectionOptions
    return options.from_series(series, fields).to_json()


# ---------------------------------------------------------------- serve


def _register_serve(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve the Anomaly Detector v1.1 REST API locally",
        description="Run an HTTP service with the v1.1 routes under /anomalydetector/v1.1 so the official SDKs work "
                    "by changing only the endpoint. Requests need the Ocp-Apim-Subscription-Key header; the key "
                    "comes from $WORKBENCH_API_KEY or --api-key-file. dataSource values must lie in a --data-dir or "
                    "on an --allow-blob-host.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key-file", help="file holding the subscription key (else $WORKBENCH_API_KEY)")
    p.add_argument("--data-dir", action="append", default=[], help="folder data sources may be read from "
                                                                     "(repeatable)")
    p.add_argument("--allow-blob-host", action="append", default=[], help="blob host data may be fetched from, e.g. "
                                                                          "myaccount.blob.core.windows.net "
                                                                          "(repeatable)")
    p.add_argument("--max-body-mb", type=float, default=64, help="largest request body in MB (default 64)")
    p.add_argument("--job-workers", type=int, default=2, help="concurrent training/batch jobs per process (default 2)")
    p.add_argument("--epochs", type=int, default=EPOCHS_DEFAULT,
                   help=f"training epochs per model (default {EPOCHS_DEFAULT})")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the registry (default 1); a job runs in the one that took it")
    p.add_argument("--job-nice", type=int, default=10,
                   help="lower the CPU priority of training/batch job threads by this much, so detection calls go "
                        "first (Linux nice, 0-19; default 10; 0: the same priority)")
    p.add_argument("--sync-threads", type=int, default=8,
                   help="threads per process running detection calls (default 8)")
    p.add_argument("--max-queue", type=int, default=256,
                   help="detection calls queued or running per process before more are answered 429 "
                        "TooManyRequests with Retry-After (default 256)")
    p.add_argument("--cache-models", type=int, default=256,
                   help="models kept loaded in memory per process (default 256) ...")
    p.add_argument("--cache-mb", type=int, default=1024, help="... within about this many MiB (default 1024)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> None:
    import os
    from pathlib import Path

    import uvicorn

    from workbench.exceptions import DataError, ErrorCode, ValidationError, file_not_found
    from workbench.server import ServerSettings, create_app

    if not 0 <= args.port <= 65535:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"--port must be between 0 and 65535; got {args.port}")
    try:
        key = Path(args.api_key_file).read_text().strip() if args.api_key_file else os.environ.get("WORKBENCH_API_KEY")
    except FileNotFoundError:
        raise file_not_found(args.api_key_file, "the API key file") from None
    except OSError as exc:
        raise DataError(ErrorCode.FILE_NOT_READABLE, f"the API key file cannot be read ({exc.strerror or exc})",
                        file=args.api_key_file) from None
    if not key:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "no API key: set WORKBENCH_API_KEY or pass --api-key-file")
    settings = ServerSettings(api_key=key, home=Path(args.home) if args.home else None,
                              data_roots=tuple(Path(d).resolve() for d in args.data_dir),
                              blob_hosts=tuple(args.allow_blob_host),
                              max_body_bytes=int(args.max_body_mb * 1024 * 1024), job_workers=args.job_workers,
                              epochs=args.epochs, sync_workers=args.sync_threads, max_queue=args.max_queue,
                              cache_models=args.cache_models, cache_mb=args.cache_mb, job_nice=args.job_nice)
    if isinstance(args.workers, bool) or args.workers < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"--workers must be a positive integer; got {args.workers}")
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return
    from workbench.server.workers import settings_to_env

    settings_to_env(settings)
    uvicorn.run("workbench.server.workers:app_from_env", factory=True, workers=args.workers, host=args.host,
                port=args.port, log_level="info")


# ---------------------------------------------------------------- notebooks


def _register_notebooks(sub) -> None:
    p = sub.add_parser("notebooks", help="run the notebooks headless (papermill) or serve the dashboard (Voila)",
                       description="Run a notebook of notebooks/ with papermill (one run, or a batch over parameter "
                                   "sets) and print the JSON summary it recorded; or serve the Voila dashboard.")
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    run = actions.add_parser("run", help="run one notebook", description="Execute a notebook with papermill "
                             "(progress bars off unless --progress) and print its output path and JSON summary. "
                             "Relative paths in parameters are read from the notebook's folder.")
    run.add_argument("notebook", help="the .ipynb to run, e.g. notebooks/04_inference.ipynb")
    run.add_argument("--output", "-o", required=True, help="where to write the executed notebook")
    run.add_argument("--parameter", "-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter, converted to its declared type (repeat for more)")
    run.add_argument("--summary", help="where the notebook writes its JSON summary (default: OUTPUT with .json)")
    run.add_argument("--progress", action="store_true", help="keep the notebook's tqdm progress bars")
    run.add_argument("--log-output", action="store_true", help="echo the notebook's outputs to the log")
    run.add_argument("--html", action="store_true", help="also write the HTML report beside OUTPUT (works offline)")
    run.set_defaults(handler=_notebooks_run)
    batch = actions.add_parser("batch", help="run one notebook once per parameter set",
                               description="Run a notebook once per object of a JSON list of parameter sets, one "
                                           "after the other (in parallel on Dask with --workers or --scheduler); "
                                           "each run writes NAME-NNN.ipynb and NAME-NNN.json (its summary) and "
                                           "batch.json lists them all. Exits 2 if any run failed.")
    batch.add_argument("notebook", help="the .ipynb to run, e.g. notebooks/04_inference.ipynb")
    batch.add_argument("parameter_sets", help="JSON file: a list of objects of notebook parameters")
    batch.add_argument("--output-dir", "-d", required=True, help="folder for the executed notebooks and summaries")
    batch.add_argument("--progress", action="store_true", help="keep the notebooks' tqdm progress bars")
    batch.add_argument("--html", action="store_true", help="also write each run's HTML report (NAME-NNN.html)")
    batch.add_argument("--scheduler", help="run the sets in parallel on this Dask scheduler (tcp://host:8786)")
    batch.add_argument("--workers", type=int, help="run the sets in parallel on an embedded LocalCluster of N "
                                                   "workers (one kernel each at a time)")
    batch.set_defaults(handler=_notebooks_batch)
    dash = actions.add_parser("dashboard", help="serve the Voila dashboard on localhost",
                              description="Serve notebooks/dashboard.ipynb (or another dashboard notebook, such as "
                                          "notebooks/fleet_dashboard.ipynb) with Voila (settings in "
                                          "notebooks/voila.json; every asset from the local server) on 127.0.0.1 "
                                          "until interrupted or terminated. Exits 2 if the port is taken.")
    dash.add_argument("notebook", nargs="?", default=None,
                      help="the dashboard notebook (default notebooks/dashboard.ipynb)")
    dash.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    dash.add_argument("--open-browser", action="store_true", help="open the dashboard in a browser")
    dash.set_defaults(handler=_notebooks_dashboard)


def _notebooks_home(args: argparse.Namespace) -> None:
    import os

    if args.home:  # the kernels inherit it: notebooks with workbench_home "" use this registry
        os.environ["WORKBENCH_HOME"] = args.home


def _notebooks_run(args: argparse.Namespace) -> dict:
    from workbench.notebooks import coerce_parameters, run_notebook

    _notebooks_home(args)
    parameters = coerce_parameters(args.notebook, dict(args.parameter))
    run = run_notebook(args.notebook, args.output, parameters, summary_path=args.summary, progress=args.progress,
                       log_output=args.log_output, html=args.html)
    return {"output": run.output, "seconds": run.seconds, "summary": run.summary} | ({"html": run.html} if run.html
                                                                                     else {})


def _notebooks_batch(args: argparse.Namespace) -> dict:
    from workbench.notebooks import NOTEBOOK_FAILED, read_parameter_sets, run_batch

    _notebooks_home(args)
    runs = run_batch(args.notebook, read_parameter_sets(args.parameter_sets), args.output_dir,
                     progress=args.progress, html=args.html, scheduler=args.scheduler, workers=args.workers)
    failed = [r for r in runs if not r.ok]
    if failed:
        lines = "; ".join(f"{r.output}: {r.error['message']}" for r in failed)
        raise WorkbenchError(NOTEBOOK_FAILED, f"{len(failed)} of {len(runs)} runs failed: {lines}")
    return {"runs": [{"output": r.output, "seconds": r.seconds, "summary": r.summary}
                     | ({"html": r.html} if r.html else {}) for r in runs]}


def _notebooks_dashboard(args: argparse.Namespace) -> None:
    import signal
    import subprocess

    from workbench.notebooks import DASHBOARD, start_dashboard, wait_for_dashboard

    def stop(signum, frame):   # SIGTERM / SIGHUP: unwind, so that Voila stops with this process
        raise SystemExit(128 + signum)

    process = start_dashboard(port=args.port, home=args.home, notebook=args.notebook or DASHBOARD,
                              open_browser=args.open_browser)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        url = wait_for_dashboard(process, args.port)
        print(f"serving the dashboard at {url} (Ctrl-C stops it)", file=sys.stderr)
        process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---------------------------------------------------------------- fleets


def _register_fleet(sub) -> None:
    p = sub.add_parser("fleet", help="train, detect and report a fleet (one model per entity) on Dask",
                       description="Fleets: one model per entity from a folder of sources, a long table (entity "
                                   "column) or a manifest, trained and scored in parallel on an embedded Dask "
                                   "LocalCluster (one worker per core) or an existing cluster (--scheduler). "
                                   "Prints a one-line summary and the ranked report (--json: the full report); "
                                   "exits 2 if any entity FAILED.")
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    train = actions.add_parser("train", help="train one model per entity",
                               description="Train every entity of a fleet; entities whose READY model was trained "
                                           "on the same data and parameters are skipped (unless --retrain).")
    _add_fleet_source(train)
    train.add_argument("--sliding-window", type=int, help="slidingWindow of the template (default 300)")
    train.add_argument("--epochs", type=int, help="training epochs of the template (default 100)")
    train.add_argument("--start-time", help="startTime of the training data")
    train.add_argument("--end-time", help="endTime of the training data")
    train.add_argument("--align-mode", choices=["Inner", "Outer"], help="alignMode of the template")
    train.add_argument("--fill-na-method", choices=["Linear", "Previous", "Subsequent", "Zero", "Fixed"],
                       help="fillNAMethod of the template")
    train.add_argument("--padding-value", type=float, help="paddingValue (with --fill-na-method Fixed)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--retrain", action="store_true", help="train every entity, even unchanged READY ones")
    _add_dialect_arguments(train)
    _add_fleet_engine(train)
    train.set_defaults(handler=_fleet_train)
    detect = actions.add_parser("detect", help="batch-detect every entity with its newest READY model",
                                description="Score every entity of a fleet source with the newest READY model "
                                            "of the fleet (--name, default the source's name).")
    _add_fleet_source(detect)
    detect.add_argument("--start-time", help="first timestamp to score (earlier rows serve as history)")
    detect.add_argument("--end-time", help="last timestamp to score")
    detect.add_argument("--top-contributor-count", type=int, default=10, help="topContributorCount (default 10)")
    _add_dialect_arguments(detect)
    _add_fleet_engine(detect)
    detect.set_defaults(handler=_fleet_detect)
    report = actions.add_parser("report", help="the ranked fleet report from the registry",
                                description="One row per entity of a fleet (newest model and batch result), "
                                            "ranked by what needs attention now.")
    report.add_argument("name", help="the fleet's name (as printed by 'fleet train')")
    report.add_argument("--recent", type=int, default=10, help="last scored rows that count as now (default 10)")
    report.add_argument("--min-severity", type=float, default=FLEET_ATTENTION_SEVERITY,
                        help="the severity an episode must reach for its entity to need attention (default "
                             f"{FLEET_ATTENTION_SEVERITY}; 0 counts any flag)")
    _add_fleet_output(report)
    report.set_defaults(handler=_fleet_report)


def _add_fleet_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a folder of per-entity sources, a long table (.csv/.parquet with an "
                                       "'entity' column) or a manifest (.csv/.json: entity, dataSource, overrides)")
    parser.add_argument("--name", help="the fleet's name in the registry (default: the source's name)")
    parser.add_argument("--layout", default="auto", choices=["auto", "folder", "table", "manifest"],
                        help="how to read the source (default: guessed)")


def _add_fleet_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: "
                                            "an embedded LocalCluster)")
    parser.add_argument("--workers", type=int, help="workers of the embedded LocalCluster (default: one per core)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar and the Dask dashboard link")
    _add_fleet_output(parser)


def _add_fleet_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--output", "-o", help="also write the report to this .csv or .json file")


def _fleet_train(args: argparse.Namespace) -> None:
    from workbench.fleet import train_fleet

    template = {"slidingWindow": args.sliding_window, "epochs": args.epochs, "startTime": args.start_time,
                "endTime": args.end_time}
    policy = {"alignMode": args.align_mode, "fillNAMethod": args.fill_na_method, "paddingValue": args.padding_value}
    if any(v is not None for v in policy.values()):
        template["alignPolicy"] = {k: v for k, v in policy.items() if v is not None}
    report = train_fleet(args.source, {k: v for k, v in template.items() if v is not None}, name=args.name,
                         scheduler=args.scheduler, workers=args.workers, seed=args.seed, retrain=args.retrain,
                         home=args.home, show_progress=args.progress, layout=args.layout, **_dialect(args))
    _fleet_output(args, report)


def _fleet_detect(args: argparse.Namespace) -> None:
    from workbench.fleet import detect_fleet

    report = detect_fleet(args.source, name=args.name, start_time=args.start_time, end_time=args.end_time,
                          top_contributor_count=args.top_contributor_count, scheduler=args.scheduler,
                          workers=args.workers, home=args.home, show_progress=args.progress, layout=args.layout,
                          **_dialect(args))
    _fleet_output(args, report)


def _fleet_report(args: argparse.Namespace) -> None:
    from workbench.fleet import fleet_report

    _fleet_output(args, fleet_report(args.name, home=args.home, recent=args.recent, min_severity=args.min_severity))


def _fleet_output(args: argparse.Namespace, report) -> None:
    """Summary and table (or JSON) on stdout; a WorkbenchError (exit 2) when an entity FAILED."""
    from workbench.exceptions import ErrorCode
    from workbench.fleet.report import report_records, summary_line, write_report

    if args.output:
        write_report(report, args.output)
    name = report.attrs.get("fleet", "")
    if args.json:
        print(json.dumps({"fleet": name, "run": report.attrs.get("run"), "entities": report_records(report)},
                         indent=2, default=str))
    else:
        print(f"fleet '{name}': {summary_line(report)}")
        columns = ["entity", "attention", "status", "anomalies", "latest_severity", "peak_severity",
                   "top_contributors", "error_code"]
        print(report[columns].fillna("").to_string(index=False))
    failed = report[report["attention"] == "failed"]
    if len(failed):
        raise WorkbenchError(ErrorCode.FLEET_INCOMPLETE, f"{len(failed)} of {len(report)} entities failed: "
                             + ", ".join(f"{r.entity} ({r.error_code})" for r in failed.itertuples()))


_REGISTRY: list[Callable] = [_register_prepare, _register_zip_upload, _register_train, _register_models,
                             _register_detect, _register_detect_last, _register_univariate, _register_serve,
                             _register_notebooks, _register_fleet]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
