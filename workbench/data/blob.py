"""Zip a folder of per-variable CSVs and upload it to Azure Blob Storage (the tutorial's zipAndUpload.py).

The result is a read-only SAS URL that training and detection accept as
``dataSource``.  Works with Azure and with Azurite (any connection string).
"""
from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from workbench._atomic import atomic_path
from workbench.data.sources import BLOB_CLIENT_OPTIONS
from workbench.exceptions import ErrorCode, StorageError

DEFAULT_SAS_HOURS = 24 * 7


def zip_csv_folder(source_folder: str | Path, zipfile_name: str | Path) -> Path:
    """Write the ``*.csv`` files at the top of ``source_folder`` into a flat zip (like ``zip -j``)."""
    folder = Path(source_folder)
    if not folder.is_dir():
        raise StorageError(ErrorCode.ZIP_FAILED, "the source folder does not exist", file=str(folder.absolute()))
    csvs = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not csvs:
        raise StorageError(ErrorCode.ZIP_FAILED, "the source folder holds no .csv files", file=str(folder))
    target = Path(zipfile_name)
    try:
        with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in csvs:
                archive.write(path, path.name)
    except OSError as exc:
        raise StorageError(ErrorCode.ZIP_FAILED, f"could not write the zip: {exc}", file=str(target)) from exc
    return target


def upload_file(path: str | Path, connection_string: str, container_name: str, blob_name: str | None = None) -> str:
    """Upload ``path`` (overwriting), creating the container if needed; returns the blob URL without SAS."""
    from azure.core.exceptions import AzureError, ResourceExistsError

    path = Path(path)
    blob_name = blob_name or path.name
    service = _service(connection_string)
    try:
        container = service.get_container_client(container_name)
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        blob = container.get_blob_client(blob_name)
        with open(path, "rb") as handle:
            blob.upload_blob(handle, overwrite=True)
        return blob.url
    except (AzureError, OSError, ValueError) as exc:
        raise StorageError(
            ErrorCode.UPLOAD_FAILED, f"upload to container '{container_name}' failed: {_short(exc)}", file=str(path)
        ) from exc


def sas_url(connection_string: str, container_name: str, blob_name: str, *, hours: float = DEFAULT_SAS_HOURS) -> str:
    """A read-only SAS URL for one blob, valid for ``hours``."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    service = _service(connection_string)
    key = getattr(service.credential, "account_key", None)
    if not key:
        raise StorageError(ErrorCode.UPLOAD_FAILED, "the connection string has no AccountKey, so no SAS can be signed")
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
    token = generate_blob_sas(
        account_name=service.account_name, container_name=container_name, blob_name=blob_name, account_key=key,
        permission=BlobSasPermissions(read=True), expiry=expiry,
    )
    blob_url = service.get_blob_client(container_name, blob_name).url
    return f"{blob_url}?{token}"


def zip_and_upload(
    source_folder: str | Path,
    zipfile_name: str | Path,
    connection_string: str,
    container_name: str,
    *,
    remove_zipfile: bool = False,
    sas_hours: float = DEFAULT_SAS_HOURS,
) -> str:
    """Zip, upload, optionally remove the local zip; returns a read-only SAS URL usable as ``dataSource``."""
    archive = zip_csv_folder(source_folder, zipfile_name)
    upload_file(archive, connection_string, container_name, archive.name)
    url = sas_url(connection_string, container_name, archive.name, hours=sas_hours)
    if remove_zipfile:
        archive.unlink(missing_ok=True)
    return url


def _service(connection_string: str):
    from azure.storage.blob import BlobServiceClient

    if not connection_string:
        raise StorageError(ErrorCode.UPLOAD_FAILED, "a connection string is required")
    try:
        return BlobServiceClient.from_connection_string(connection_string, **BLOB_CLIENT_OPTIONS)
    except ValueError as exc:
        raise StorageError(ErrorCode.UPLOAD_FAILED, f"invalid connection string: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
