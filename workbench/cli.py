"""The ``workbench`` command: a thin layer over the Python API, one subcommand per task.

Every subcommand prints JSON (the v1.1 shapes) on stdout; a failure prints
``error [Code]: message`` on stderr and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

from workbench import __version__
from workbench.exceptions import WorkbenchError

Handler = Callable[[argparse.Namespace], object]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        output = args.handler(args)
    except WorkbenchError as exc:
        print(f"error {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if output is not None:
        print(json.dumps(output, indent=2))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Local multivariate (MVAD) and univariate anomaly detection with the Anomaly Detector v1.1 "
                    "contract. Each subcommand mirrors a function of the Python API.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for register in _REGISTRY:
        register(sub)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_source", help="OneTable CSV, MultiTable folder or zip, file:// or https:// blob URL")
    parser.add_argument("--schema", "--data-schema", dest="data_schema", default="OneTable",
                        choices=["OneTable", "MultiTable"], help="dataSchema (default: OneTable)")
    parser.add_argument("--start-time", help="startTime (ISO-8601; clipped to the data)")
    parser.add_argument("--end-time", help="endTime (ISO-8601; clipped to the data; not before startTime)")


def _add_align_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--align-mode", default="Outer", choices=["Inner", "Outer"], help="alignMode (default Outer)")
    parser.add_argument("--fill-na-method", default="Linear",
                        choices=["Linear", "Previous", "Subsequent", "Zero", "Fixed"],
                        help="fillNAMethod (default Linear)")
    parser.add_argument("--padding-value", type=float, help="paddingValue (required with --fill-na-method Fixed)")


def _align_policy(args: argparse.Namespace) -> dict:
    policy = {"alignMode": args.align_mode, "fillNAMethod": args.fill_na_method}
    if args.padding_value is not None:
        policy["paddingValue"] = args.padding_value
    return policy


# ---------------------------------------------------------------- prepare


def _register_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare", help="validate and align data; print variableStates",
        description="Read a data source the way training would (validation, alignMode, fillNAMethod, startTime/"
                    "endTime clipping) and print each variable's filledNARatio, effectiveCount and first/last "
                    "timestamps. Optionally write the aligned table as a OneTable CSV.",
    )
    _add_data_arguments(p)
    _add_align_arguments(p)
    p.add_argument("--output", "-o", help="write the aligned data here as a OneTable CSV (atomically)")
    p.set_defaults(handler=_prepare)


def _prepare(args: argparse.Namespace) -> dict:
    from workbench import data
    from workbench._atomic import atomic_path

    prepared = data.load(args.data_source, args.data_schema, start_time=args.start_time, end_time=args.end_time,
                         align_policy=_align_policy(args))
    if args.output:
        with atomic_path(args.output) as tmp:
            prepared.frame.rename_axis("timestamp").to_csv(tmp, date_format="%Y-%m-%dT%H:%M:%SZ")
    return {
        "timestamps": len(prepared.frame),
        "variables": prepared.variables,
        "variableStates": [s.to_json() for s in prepared.variable_states],
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


_REGISTRY: list[Callable] = [_register_prepare, _register_zip_upload]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
