"""Resolve a v1.1 ``dataSource`` into raw CSV tables.

A source is a local OneTable CSV, a MultiTable folder or zip of per-variable
CSVs, a ``file://`` URL to either, or an Azure Blob URL (with a SAS token) to a
CSV, a zip, or a container/folder of CSVs.  This module only finds and fetches
bytes; :mod:`workbench.data.tables` parses them.
"""
from __future__ import annotations

import io
import ipaddress
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import unquote, urlparse

from workbench.contracts import DataSchema
from workbench.exceptions import DataError, ErrorCode, StorageError, ValidationError, file_not_found

# A zip member may expand at most this many times its packed size (CSV compresses ~3-10x) ...
MAX_ZIP_RATIO = 100
# ... and the whole archive to at most this many bytes.
MAX_ZIP_EXPANDED_BYTES = 4 * 1024**3
# Blob clients retry a few times, briefly: an unreachable endpoint should fail in seconds, not minutes.
BLOB_CLIENT_OPTIONS = {"retry_total": 2, "initial_backoff": 1, "increment_base": 2, "connection_timeout": 10,
                       "read_timeout": 120}


@dataclass(frozen=True)
class CsvTable:
    """One CSV to parse: ``name`` labels errors (and is the variable name in MultiTable)."""

    name: str
    origin: str
    open: Callable[[], io.BufferedIOBase | io.BytesIO]


@dataclass(frozen=True)
class RawSource:
    schema: DataSchema
    tables: list[CsvTable]
    description: str


def resolve(data_source: str, data_schema: DataSchema | str = DataSchema.ONE_TABLE,
            *, policy: "SourcePolicy | None" = None) -> RawSource:
    """Find the CSV tables behind ``data_source``; checks that their layout fits ``data_schema``."""
    schema = DataSchema(data_schema) if not isinstance(data_schema, DataSchema) else data_schema
    if not isinstance(data_source, str) or not data_source.strip():
        raise ValidationError(ErrorCode.INVALID_DATA_SOURCE, "dataSource must be a non-empty string")
    data_source = data_source.strip()
    parsed = urlparse(data_source)
    if policy is not None:
        policy.check(data_source)
    if parsed.scheme in ("http", "https"):
        return _resolve_blob(data_source, schema)
    if parsed.scheme == "file":
        return _resolve_local(Path(unquote(parsed.path)), schema, data_source)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ValidationError(
            ErrorCode.INVALID_DATA_SOURCE,
            f"unsupported dataSource scheme '{parsed.scheme}': use a local path, file:// or an https:// blob URL",
        )
    return _resolve_local(Path(data_source).expanduser(), schema, data_source)


@dataclass(frozen=True)
class SourcePolicy:
    """Where a server may read data from: local folders and named blob hosts (``None`` = anywhere)."""

    local_roots: tuple[Path, ...] = ()
    blob_hosts: tuple[str, ...] = ()

    def check(self, data_source: str) -> None:
        parsed = urlparse(data_source)
        if parsed.scheme in ("http", "https"):
            host = (parsed.hostname or "").lower()
            if host in {h.lower() for h in self.blob_hosts}:
                return
            raise ValidationError(ErrorCode.DATA_SOURCE_NOT_ALLOWED, f"blob host '{host}' is not an allowed data location")
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else data_source).expanduser().resolve()
        for root in self.local_roots:
            if path == root.resolve() or root.resolve() in path.parents:
                return
        raise ValidationError(ErrorCode.DATA_SOURCE_NOT_ALLOWED, f"'{data_source}' is outside the allowed data folders")


# ---------------------------------------------------------------- local


def _resolve_local(path: Path, schema: DataSchema, label: str) -> RawSource:
    if not path.exists():
        raise file_not_found(path, "the data source", ErrorCode.DATA_SOURCE_NOT_FOUND)
    if path.is_dir():
        _require_schema(schema, DataSchema.MULTI_TABLE, label, "a folder of per-variable CSV files")
        return RawSource(schema, _folder_tables(path), label)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        _require_schema(schema, DataSchema.MULTI_TABLE, label, "a zip of per-variable CSV files")
        return RawSource(schema, zip_tables(_read_local(path), str(path)), label)
    if suffix == ".csv":
        _require_schema(schema, DataSchema.ONE_TABLE, label, "a single CSV file")
        return RawSource(schema, [CsvTable(path.stem, str(path), lambda: open(path, "rb"))], label)
    hint = "; export the sheet as CSV (UTF-8)" if suffix in (".xls", ".xlsx", ".xlsm", ".ods") else ""
    raise DataError(ErrorCode.INVALID_DATA_SOURCE,
                    f"expected a .csv file, a .zip file or a folder; got a '{suffix or 'no suffix'}' file{hint}",
                    file=str(path))


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(ErrorCode.FILE_NOT_READABLE, f"the file cannot be read ({exc.strerror or exc})",
                        file=str(path)) from None


def _folder_tables(folder: Path) -> list[CsvTable]:
    tables = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix.lower() == ".csv":
            tables.append(CsvTable(entry.stem, str(entry), lambda p=entry: open(p, "rb")))
    if not tables:
        raise DataError(ErrorCode.NO_VARIABLES, "the folder holds no .csv files", file=str(folder))
    return tables


def _require_schema(actual: DataSchema, needed: DataSchema, label: str, what: str) -> None:
    if actual is not needed:
        raise ValidationError(
            ErrorCode.INVALID_DATA_SCHEMA,
            f"dataSource '{label}' is {what}, which is the {needed.value} schema, but dataSchema is {actual.value}",
        )


# ---------------------------------------------------------------- zip


def zip_tables(payload: bytes, label: str) -> list[CsvTable]:
    """Per-variable tables of a MultiTable zip, after checking it is safe and flat."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(ErrorCode.INVALID_ZIP, f"not a readable zip archive ({exc})", file=label) from exc
    expanded = 0
    seen: set[str] = set()
    tables = []
    for info in members:
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
            raise DataError(ErrorCode.UNSAFE_ZIP, f"member '{name}' points outside the archive", file=label)
        if info.is_dir() or len(pure.parts) > 1:
            raise DataError(
                ErrorCode.STRAY_ZIP_MEMBER,
                f"member '{name}' is in a subfolder; zip the CSV files without folders (zip -j)", file=label,
            )
        if pure.suffix.lower() != ".csv":
            raise DataError(
                ErrorCode.STRAY_ZIP_MEMBER, f"member '{name}' is not a .csv file; the zip may hold only CSVs", file=label
            )
        expanded += info.file_size
        packed = max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and info.file_size / packed > MAX_ZIP_RATIO or expanded > MAX_ZIP_EXPANDED_BYTES:
            raise DataError(
                ErrorCode.UNSAFE_ZIP,
                f"member '{name}' expands to {info.file_size} bytes from {info.compress_size}: refusing a zip bomb",
                file=label,
            )
        variable = pure.stem
        if variable in seen:
            raise DataError(ErrorCode.DUPLICATE_VARIABLE, f"variable '{variable}' appears twice in the zip", file=label)
        seen.add(variable)
        tables.append(CsvTable(variable, f"{label}!{name}", lambda a=archive, n=name: _read_member(a, n)))
    if not tables:
        raise DataError(ErrorCode.NO_VARIABLES, "the zip holds no .csv files", file=label)
    return sorted(tables, key=lambda t: t.name)


def _read_member(archive: zipfile.ZipFile, name: str) -> io.BytesIO:
    with archive.open(name) as handle:
        return io.BytesIO(handle.read(MAX_ZIP_EXPANDED_BYTES + 1))


# ---------------------------------------------------------------- Azure Blob


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _resolve_blob(url: str, schema: DataSchema) -> RawSource:
    parsed = urlparse(url)
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname or ""):
        raise ValidationError(ErrorCode.INVALID_DATA_SOURCE, "blob URLs must use https (http only for a local emulator)")
    suffix = PurePosixPath(parsed.path).suffix.lower()
    if suffix in (".csv", ".zip"):
        payload = _download_blob(url)
        blob_name = PurePosixPath(unquote(parsed.path)).name
        if suffix == ".zip":
            _require_schema(schema, DataSchema.MULTI_TABLE, blob_name, "a zip of per-variable CSV files")
            return RawSource(schema, zip_tables(payload, blob_name), blob_name)
        _require_schema(schema, DataSchema.ONE_TABLE, blob_name, "a single CSV file")
        return RawSource(schema, [CsvTable(PurePosixPath(blob_name).stem, blob_name, lambda: io.BytesIO(payload))],
                         blob_name)
    _require_schema(schema, DataSchema.MULTI_TABLE, parsed.path, "a blob folder of per-variable CSV files")
    return RawSource(schema, _blob_folder_tables(url), parsed.path)


def _download_blob(url: str) -> bytes:
    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.storage.blob import BlobClient

    try:
        return BlobClient.from_blob_url(url, **BLOB_CLIENT_OPTIONS).download_blob().readall()
    except ResourceNotFoundError as exc:
        raise StorageError(ErrorCode.DATA_SOURCE_NOT_FOUND, "the blob does not exist", file=_redact(url)) from exc
    except (AzureError, ValueError) as exc:
        raise StorageError(
            ErrorCode.BLOB_ACCESS_FAILED, f"could not read the blob: {_first_line(exc)}", file=_redact(url)
        ) from exc


def _blob_folder_tables(url: str) -> list[CsvTable]:
    """MultiTable from a container or a folder inside one: ``https://acct/container[/folder]?sas``."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import ContainerClient

    parsed = urlparse(url)
    path_parts = [p for p in unquote(parsed.path).split("/") if p]
    # Azurite and other emulators put the account name first in the path
    account_in_path = _is_loopback(parsed.hostname or "")
    container_index = 1 if account_in_path else 0
    if len(path_parts) <= container_index:
        raise ValidationError(ErrorCode.INVALID_DATA_SOURCE, "the blob URL names no container", file=_redact(url))
    container_path = "/".join(path_parts[: container_index + 1])
    prefix = "/".join(path_parts[container_index + 1:])
    prefix = f"{prefix}/" if prefix else ""
    container_url = f"{parsed.scheme}://{parsed.netloc}/{container_path}" + (f"?{parsed.query}" if parsed.query else "")
    try:
        client = ContainerClient.from_container_url(container_url, **BLOB_CLIENT_OPTIONS)
        names = [b.name for b in client.list_blobs(name_starts_with=prefix or None)]
    except (AzureError, ValueError) as exc:
        raise StorageError(
            ErrorCode.BLOB_ACCESS_FAILED, f"could not list the blob folder: {_first_line(exc)}", file=_redact(url)
        ) from exc
    tables = []
    for name in sorted(names):
        rest = name[len(prefix):]
        if "/" in rest or not rest.lower().endswith(".csv"):
            continue
        tables.append(CsvTable(PurePosixPath(rest).stem, name, lambda c=client, n=name: _download_member(c, n, url)))
    if not tables:
        raise DataError(ErrorCode.NO_VARIABLES, "the blob folder holds no .csv files", file=_redact(url))
    return tables


def _download_member(client, name: str, url: str) -> io.BytesIO:
    from azure.core.exceptions import AzureError

    try:
        return io.BytesIO(client.download_blob(name).readall())
    except AzureError as exc:
        raise StorageError(ErrorCode.BLOB_ACCESS_FAILED, f"could not read blob '{name}': {_first_line(exc)}",
                           file=_redact(url)) from exc


def _redact(url: str) -> str:
    """The URL without its SAS token, for messages and logs."""
    parsed = urlparse(url)
    return parsed._replace(query="").geturl() if parsed.query else url


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
