"""What a fleet is: many entities, each with its own data and model, read from one of three layouts.

* a **folder** with one source per entity: a OneTable ``.csv``, or a MultiTable sub-folder or ``.zip``
  (the entity is the file or folder name without its suffix);
* a **long table** (``.csv`` or ``.parquet``) with an ``entity`` column, a ``timestamp`` column and one
  column per variable (the driver reads it once and hands each entity its slice);
* a **manifest** (``.csv`` or ``.json``) with ``entity``, ``dataSource`` and optional per-entity overrides of
  the training template (``dataSchema``, ``slidingWindow``, ``startTime``, ``endTime``, ``epochs``,
  ``alignMode``/``fillNAMethod``/``paddingValue`` or a JSON ``alignPolicy``).

One v1.1 training template applies to all entities; overrides win.  The layout is checked here with coded
errors naming the file and row; each entity's data is validated by the worker that reads it, exactly as
for a single model.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from workbench.contracts import EPOCHS_DEFAULT, ModelInfo
from workbench.data import CsvDialect
from workbench.exceptions import DataError, ErrorCode, ValidationError, WorkbenchError

ENTITY = "entity"
TIMESTAMP = "timestamp"
TEMPLATE_KEYS = ("dataSchema", "slidingWindow", "startTime", "endTime", "alignPolicy", "epochs", "displayName")
_ALIGN_KEYS = ("alignMode", "fillNAMethod", "paddingValue")
_MANIFEST_KEYS = {ENTITY, "dataSource", *TEMPLATE_KEYS, *_ALIGN_KEYS}
_LONG_SUFFIXES = {".csv", ".parquet", ".pq"}


@dataclass
class Entity:
    """One member of a fleet: its name, where its data is, and its effective training body."""

    name: str
    body: dict[str, Any]                 # the v1.1 training body (dataSource, slidingWindow, ...) plus "epochs"
    frame: pd.DataFrame | None = None    # its slice of a long table (then body["dataSource"] names the table)
    origin: str = ""                     # file (and row) it came from, for error messages

    @property
    def data_source(self) -> str:
        return self.body["dataSource"]

    @property
    def epochs(self) -> int:
        return int(self.body.get("epochs", EPOCHS_DEFAULT))

    def request(self) -> ModelInfo:
        """The validated v1.1 training request (a coded ValidationError when an override is bad)."""
        return ModelInfo.from_json({k: v for k, v in self.body.items() if k != "epochs"})

    def fingerprint(self, extra: Mapping[str, Any] | None = None) -> str:
        """A hash of the entity's data (size/mtime/path, or content for a slice) and its training parameters."""
        digest = hashlib.sha256()
        digest.update(json.dumps({k: v for k, v in self.body.items() if k != "displayName"}, sort_keys=True,
                                 default=str).encode())
        digest.update(json.dumps(dict(extra or {}), sort_keys=True, default=str).encode())
        if self.frame is not None:
            digest.update(pd.util.hash_pandas_object(self.frame, index=True).to_numpy().tobytes())
            digest.update(",".join(map(str, self.frame.columns)).encode())
        else:
            digest.update(source_stamp(self.data_source).encode())
        return digest.hexdigest()


@dataclass
class Fleet:
    """The entities of a fleet, in a stable order, and the name its models are registered under."""

    name: str
    entities: list[Entity]
    origin: str
    problems: dict[str, WorkbenchError] = field(default_factory=dict)  # entity -> layout error found here
    dialect: CsvDialect = CsvDialect()  # how its CSV files are written (separator, decimal mark)

    def __len__(self) -> int:
        return len(self.entities)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entities]


def load_fleet(source: str | Path | Fleet, template: Mapping[str, Any] | None = None, *, name: str | None = None,
               layout: str = "auto", entity_column: str = ENTITY, sep: str = ",", decimal: str = ".") -> Fleet:
    """Read a fleet from a folder, a long table or a manifest (``layout``: auto, folder, table, manifest).

    ``sep``/``decimal``: how every CSV of the fleet is written (the table, the manifest, the entities' files).
    """
    if isinstance(source, Fleet):
        return source
    dialect = CsvDialect.of(sep, decimal)
    template = _template(template)
    path = Path(str(source)).expanduser().absolute()
    if not path.exists():
        raise DataError(ErrorCode.DATA_SOURCE_NOT_FOUND, "the fleet source does not exist", file=str(path))
    kind = layout if layout != "auto" else _guess_layout(path, entity_column, dialect.sep)
    readers = {"folder": _from_folder, "table": _from_long_table, "manifest": _from_manifest}
    if kind not in readers:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"layout must be auto, folder, table or manifest; got {layout!r}")
    fleet = readers[kind](path, template, entity_column, dialect)
    fleet.dialect = dialect
    if name:
        fleet.name = name
    if not fleet.entities:
        raise DataError(ErrorCode.NO_VARIABLES, "the fleet source holds no entity", file=str(path))
    return fleet


def source_stamp(data_source: str) -> str:
    """Path, size and modification time of a local source (every file of a folder); the URL of a remote one."""
    parsed = urlparse(data_source)
    if parsed.scheme in ("http", "https"):
        return parsed._replace(query="").geturl()  # a new SAS token does not make new data
    path = Path(parsed.path if parsed.scheme == "file" else data_source).expanduser()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    parts = []
    for item in files:
        try:
            stat = item.stat()
            parts.append(f"{item.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{item}:missing")
    return "|".join(parts)


# ---------------------------------------------------------------- layouts


def _guess_layout(path: Path, entity_column: str, sep: str) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "manifest"
    if suffix in (".parquet", ".pq"):
        return "table"
    if suffix == ".csv":
        header = _csv_header(path, sep)
        if "dataSource" in header:
            return "manifest"
        if entity_column in header:
            return "table"
        raise DataError(ErrorCode.INVALID_HEADER, f"a fleet CSV needs an '{entity_column}' column (a long table) or "
                        f"'{ENTITY}' and 'dataSource' columns (a manifest); found {', '.join(header) or 'none'}",
                        file=str(path), row=1)
    raise DataError(ErrorCode.INVALID_DATA_SOURCE, "a fleet is a folder, a long table (.csv, .parquet) or a "
                    "manifest (.csv, .json)", file=str(path))


def _from_folder(path: Path, template: dict, entity_column: str, dialect: CsvDialect) -> Fleet:
    entities = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        suffix = entry.suffix.lower()
        if entry.is_dir() or suffix == ".zip":
            schema = "MultiTable"
        elif suffix == ".csv":
            schema = "OneTable"
        else:
            continue
        # absolute, so that workers with another working folder read the same file; the entry decides the schema
        body = dict(template, dataSource=str(entry.resolve()), dataSchema=schema)
        entities.append(Entity(entry.stem if entry.is_file() else entry.name, body, origin=str(entry)))
    _check_unique(entities, str(path))
    return Fleet(path.name, entities, str(path))


def _from_long_table(path: Path, template: dict, entity_column: str, dialect: CsvDialect) -> Fleet:
    table = _read_table(path, dialect)
    for column in (entity_column, TIMESTAMP):
        if column not in table.columns:
            raise DataError(ErrorCode.INVALID_HEADER, f"a long table needs a '{column}' column; found "
                            f"{', '.join(map(str, table.columns))}", file=str(path), row=1)
    missing = table[entity_column].isna() | (table[entity_column].astype(str).str.strip() == "")
    if missing.any():
        raise DataError(ErrorCode.INVALID_VALUE, "the entity is blank", file=str(path), column=entity_column,
                        row=int(missing.to_numpy().argmax()) + 2)
    variables = [c for c in table.columns if c not in (entity_column, TIMESTAMP)]
    if not variables:
        raise DataError(ErrorCode.NO_VARIABLES, "the long table has no variable column", file=str(path), row=1)
    table["_row"] = range(2, len(table) + 2)  # the line in a CSV (header is line 1), kept for messages
    entities = []
    for key, group in table.groupby(table[entity_column].astype(str).str.strip(), sort=True):
        frame = group.set_index(TIMESTAMP)[variables]
        frame = frame.loc[:, frame.notna().any()]  # an entity measures only its own variables
        rows = f"rows {int(group['_row'].min())}..{int(group['_row'].max())}"
        body = dict(template, dataSource=f"{path}#{key}", dataSchema="OneTable")
        entities.append(Entity(str(key), body, frame=frame, origin=f"{path} ({entity_column} '{key}', {rows})"))
    return Fleet(path.stem, entities, str(path))


def _from_manifest(path: Path, template: dict, entity_column: str, dialect: CsvDialect) -> Fleet:
    records = _manifest_records(path, dialect.sep)
    entities, problems = [], {}
    for row, record in records:
        where = {"file": str(path), "row": row}
        unknown = sorted(set(record) - _MANIFEST_KEYS)
        if unknown:
            raise DataError(ErrorCode.INVALID_HEADER, f"unknown manifest field(s) {', '.join(unknown)}; allowed: "
                            f"{', '.join(sorted(_MANIFEST_KEYS))}", **where)
        entity = _text(record.get(ENTITY))
        source = _text(record.get("dataSource"))
        if not entity:
            raise DataError(ErrorCode.INVALID_VALUE, "the entity is blank", column=ENTITY, **where)
        if not source:
            raise DataError(ErrorCode.INVALID_DATA_SOURCE, f"entity '{entity}' has no dataSource",
                            column="dataSource", **where)
        if not urlparse(source).scheme and not Path(source).expanduser().is_absolute():
            source = str((path.parent / source).resolve())  # relative to the manifest, as in a notebook folder
        overrides = {k: v for k, v in record.items() if k in TEMPLATE_KEYS and not _blank(v)}
        align = {k: record[k] for k in _ALIGN_KEYS if k in record and not _blank(record[k])}
        body = dict(template, **overrides, dataSource=source)
        if align:
            body["alignPolicy"] = dict(body.get("alignPolicy") or {}, **align)
        body.setdefault("dataSchema", _schema_of(source))
        for key in ("slidingWindow", "epochs"):
            if key in body and isinstance(body[key], float) and float(body[key]).is_integer():
                body[key] = int(body[key])  # a CSV column with blanks reads as float
        item = Entity(entity, body, origin=f"{path} (row {row})")
        try:
            item.request()
            _check_epochs(item.body.get("epochs"))
        except WorkbenchError as exc:  # a bad override fails that entity, not the fleet
            problems[entity] = type(exc)(exc.code, exc.message, file=str(path), column=exc.column, row=row)
        entities.append(item)
    _check_unique(entities, str(path))
    return Fleet(path.stem, entities, str(path), problems)


# ---------------------------------------------------------------- helpers


def _template(template: Mapping[str, Any] | None) -> dict[str, Any]:
    body = dict(template or {})
    unknown = sorted(set(body) - set(TEMPLATE_KEYS))
    if unknown:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"unknown training template field(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(TEMPLATE_KEYS)} (dataSource comes from the fleet)")
    ModelInfo.from_json(dict(body, dataSource="template"))  # the same coded errors as a single model
    _check_epochs(body.get("epochs"))
    return {k: v for k, v in body.items() if v is not None}


def _check_epochs(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'epochs' must be a positive integer; got {value!r}")


def _schema_of(source: str) -> str:
    path = Path(urlparse(source).path)
    return "MultiTable" if path.suffix.lower() == ".zip" or path.is_dir() else "OneTable"


def _check_unique(entities: list[Entity], label: str) -> None:
    seen: dict[str, str] = {}
    for item in entities:
        if item.name in seen:
            raise DataError(ErrorCode.DUPLICATE_VARIABLE, f"entity '{item.name}' appears twice ({seen[item.name]} "
                            f"and {item.origin})", file=label)
        seen[item.name] = item.origin


def _csv_header(path: Path, sep: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            line = handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(ErrorCode.INVALID_DATA_SOURCE, f"cannot read the file ({exc})", file=str(path)) from exc
    return [c.strip() for c in line.strip().split(sep) if c.strip()]


def _read_table(path: Path, dialect: CsvDialect) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={ENTITY: str}, sep=dialect.sep, decimal=dialect.decimal)
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(ErrorCode.INVALID_DATA_SOURCE, f"cannot read the long table ({exc})", file=str(path)) from exc


def _manifest_records(path: Path, sep: str) -> list[tuple[int, dict[str, Any]]]:
    """(row, record) pairs: the CSV line number (header = 1), or the 1-based position in a JSON list."""
    try:
        if path.suffix.lower() == ".json":
            payload = json.loads(path.read_text(encoding="utf-8"))
            items = payload.get("entities") if isinstance(payload, dict) else payload
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise DataError(ErrorCode.BAD_ARGUMENT, "a JSON manifest is a list of objects (or "
                                "{\"entities\": [...]})", file=str(path))
            return [(i + 1, dict(item)) for i, item in enumerate(items)]
        table = pd.read_csv(path, dtype={ENTITY: str, "dataSource": str, "dataSchema": str}, sep=sep)
    except (OSError, ValueError) as exc:
        raise DataError(ErrorCode.INVALID_DATA_SOURCE, f"cannot read the manifest ({exc})", file=str(path)) from exc
    for column in (ENTITY, "dataSource"):
        if column not in table.columns:
            raise DataError(ErrorCode.INVALID_HEADER, f"a manifest needs a '{column}' column", file=str(path), row=1)
    return [(i + 2, {k: v for k, v in rec.items()}) for i, rec in enumerate(table.to_dict("records"))]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str)
                                                                                  and not value.strip())


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()
