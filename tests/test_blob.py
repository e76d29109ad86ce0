"""Zip-and-upload against a real blob service (Azurite), and loading training data back through SAS URLs."""
from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlparse

import numpy as np
import pytest
from azure.storage.blob import BlobServiceClient

from workbench import data
from workbench.data.blob import sas_url, upload_file, zip_and_upload
from workbench.exceptions import ErrorCode, StorageError, WorkbenchError

SAMPLE_ZIP = "data/samples/multivariate_sample_data_5_3000.zip"


@pytest.fixture
def series_folder(tmp_path):
    import zipfile
    folder = tmp_path / "series"
    zipfile.ZipFile(SAMPLE_ZIP).extractall(folder)
    return folder


def test_zip_upload_sas_round_trip(azurite, series_folder, tmp_path):
    url = zip_and_upload(series_folder, tmp_path / "train.zip", azurite, "mvad-data", remove_zipfile=True)
    assert not (tmp_path / "train.zip").exists()           # -r removed the local zip
    query = urlparse(url).query
    assert "sig=" in query and "sp=r" in query               # a read-only SAS
    remote = data.load(url, "MultiTable")
    local = data.load(SAMPLE_ZIP, "MultiTable")
    assert remote.variables == local.variables
    np.testing.assert_array_equal(remote.frame.to_numpy(), local.frame.to_numpy())


def test_onetable_csv_and_blob_folder_sources(azurite, series_folder):
    service = BlobServiceClient.from_connection_string(azurite)
    upload_file("data/samples/sample_data_5_3000.csv", azurite, "onetable")
    csv_url = sas_url(azurite, "onetable", "sample_data_5_3000.csv")
    assert data.load(csv_url, "OneTable", end_time="2021-01-01T00:59:00Z").frame.shape == (60, 5)

    for path in sorted(series_folder.iterdir()):
        upload_file(path, azurite, "folders", f"train/{path.name}")
    upload_file(series_folder / "series_0.csv", azurite, "folders", "train/nested/ignored.csv")
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    import datetime as dt
    token = generate_container_sas(service.account_name, "folders", account_key=service.credential.account_key,
                                   permission=ContainerSasPermissions(read=True, list=True),
                                   expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    folder_url = f"{service.get_container_client('folders').url}/train?{token}"
    prepared = data.load(folder_url, "MultiTable")
    assert prepared.variables == [f"series_{i}" for i in range(5)]
    assert prepared.frame.shape == (3000, 5)


def test_missing_blob_and_bad_signature(azurite):
    upload_file("data/samples/sample_data_5_3000.csv", azurite, "errors")
    good = sas_url(azurite, "errors", "sample_data_5_3000.csv")
    missing = good.replace("sample_data_5_3000.csv", "nothing_here.csv")
    with pytest.raises(WorkbenchError) as err:
        data.load(missing, "OneTable")
    assert err.value.code in (ErrorCode.DATA_SOURCE_NOT_FOUND, ErrorCode.BLOB_ACCESS_FAILED)
    assert "sig=" not in str(err.value)                       # the SAS token never appears in messages
    forged = good.replace("sig=", "sig=AAAA")
    with pytest.raises(WorkbenchError) as err:
        data.load(forged, "OneTable")
    assert err.value.code == ErrorCode.BLOB_ACCESS_FAILED


def test_upload_errors_are_clear(tmp_path, series_folder):
    with pytest.raises(StorageError) as err:
        zip_and_upload(series_folder, tmp_path / "a.zip", "not a connection string", "c")
    assert err.value.code == ErrorCode.UPLOAD_FAILED
    # nothing listens on port 9: the upload fails with a message, not a hang or a traceback
    conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    with pytest.raises(StorageError) as err:
        upload_file(tmp_path / "a.zip", conn, "c")
    assert err.value.code == ErrorCode.UPLOAD_FAILED


def test_cli_zip_upload(azurite, series_folder, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "zip-upload", "-s", str(series_folder), "-z",
         str(tmp_path / "cli.zip"), "-c", azurite, "-n", "cli", "-r"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    import json
    url = json.loads(proc.stdout)["dataSource"]
    assert data.load(url, "MultiTable").frame.shape == (3000, 5)
    bad = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "zip-upload", "-s", str(tmp_path / "nope"), "-z", "x.zip",
         "-c", azurite, "-n", "cli"], capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "ZipFailed" in bad.stderr and "Traceback" not in bad.stderr
