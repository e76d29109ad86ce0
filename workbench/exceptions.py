"""Error codes and exceptions.

Every failure a user can cause raises a :class:`WorkbenchError` carrying a
v1.1-style ``code``, a message a person understands, and where known the
offending ``file``, ``column`` and ``row``.  ``to_error()`` gives the
``{code, message}`` body the v1.1 service returned in ``errors`` lists.
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any


class ErrorCode:
    """The error codes the workbench emits (v1.1 names where one exists)."""

    # request / parameter errors
    BAD_ARGUMENT = "BadArgument"
    INVALID_SLIDING_WINDOW = "InvalidSlidingWindow"
    INVALID_ALIGN_MODE = "InvalidAlignMode"
    INVALID_FILL_NA_METHOD = "InvalidFillNAMethod"
    INVALID_PADDING_VALUE = "InvalidPaddingValue"
    INVALID_DATA_SCHEMA = "InvalidDataSchema"
    INVALID_TIMESTAMP_RANGE = "InvalidTimestampRange"
    INVALID_TOP_CONTRIBUTOR_COUNT = "InvalidTopContributorCount"
    # data source errors
    INVALID_DATA_SOURCE = "InvalidDataSource"
    DATA_SOURCE_NOT_FOUND = "DataSourceNotFound"
    DATA_SOURCE_NOT_ALLOWED = "DataSourceNotAllowed"
    BLOB_ACCESS_FAILED = "BlobAccessFailed"
    FILE_NOT_FOUND = "FileNotFound"
    FILE_NOT_READABLE = "FileNotReadable"
    # file content errors
    EMPTY_FILE = "EmptyFile"
    INVALID_FILE = "InvalidFileFormat"
    INVALID_ENCODING = "InvalidFileEncoding"
    INVALID_SEPARATOR = "InvalidSeparator"
    INVALID_DECIMAL = "InvalidDecimalSeparator"
    INVALID_ROW = "InvalidRow"
    INVALID_HEADER = "InvalidHeader"
    INVALID_TIMESTAMP = "InvalidTimestampFormat"
    INVALID_VALUE = "InvalidValue"
    DUPLICATE_TIMESTAMP = "DuplicateTimestamp"
    DUPLICATE_VARIABLE = "DuplicateVariable"
    INVALID_ZIP = "InvalidZipFile"
    UNSAFE_ZIP = "UnsafeZipFile"
    STRAY_ZIP_MEMBER = "UnexpectedZipMember"
    TOO_MANY_TIMESTAMPS = "TooManyTimestamps"
    NOT_ENOUGH_DATA = "NotEnoughData"
    NO_VARIABLES = "NoVariables"
    TOO_MANY_VARIABLES = "TooManyVariables"
    # zip-and-upload
    ZIP_FAILED = "ZipFailed"
    UPLOAD_FAILED = "UploadFailed"
    # models and results
    MODEL_NOT_FOUND = "ModelNotExist"
    AMBIGUOUS_MODEL_ID = "AmbiguousModelId"
    MODEL_NOT_READY = "ModelNotReady"
    RESULT_NOT_FOUND = "ResultNotExist"
    INVALID_MODEL_ARCHIVE = "InvalidModelArchive"
    VARIABLE_MISMATCH = "VariableMismatch"
    TRAINING_FAILED = "TrainingFailed"
    TRAINING_INTERRUPTED = "TrainingInterrupted"
    DETECTION_FAILED = "DetectionFailed"
    DETECTION_INTERRUPTED = "DetectionInterrupted"
    INSUFFICIENT_HISTORICAL_DATA = "InsufficientHistoricalData"
    NOTEBOOK_FAILED = "NotebookFailed"
    # the server
    TOO_MANY_REQUESTS = "TooManyRequests"
    # fleets
    DETECTION_FAILED = "DetectionFailed"
    WORKER_LOST = "WorkerLost"
    FLEET_INCOMPLETE = "FleetIncomplete"
    NO_READY_MODEL = "NoReadyModel"
    # univariate (v1.1 /timeseries)
    INVALID_GRANULARITY = "InvalidGranularity"
    REQUIRED_GRANULARITY = "RequiredGranularity"
    INVALID_CUSTOM_INTERVAL = "InvalidCustomInterval"
    INVALID_PERIOD = "InvalidPeriod"
    INVALID_MODEL_ARGUMENT = "InvalidModelArgument"
    REQUIRED_SERIES = "RequiredSeries"
    INVALID_SERIES = "InvalidSeries"
    INVALID_IMPUTE_MODE = "InvalidImputeMode"
    INVALID_IMPUTE_FIXED_VALUE = "InvalidImputeFixedValue"


class WorkbenchError(Exception):
    """A failure caused by a request or its data, with a code and a location."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file '{self.file}'")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        suffix = f" ({', '.join(where)})" if where else ""
        return f"[{self.code}] {self.message}{suffix}"

    def to_error(self) -> dict[str, Any]:
        """The v1.1 ``{code, message}`` error object, the location folded into the message."""
        return {"code": self.code, "message": self._describe().split("] ", 1)[1]}


def error_of(exc: BaseException, fallback_code: str) -> dict[str, str]:
    """The v1.1 ``{code, message}`` of any failure: a coded error as it is, anything else under ``fallback_code``."""
    if isinstance(exc, WorkbenchError):
        return exc.to_error()
    return {"code": fallback_code, "message": f"{type(exc).__name__}: {exc}"}


class ValidationError(WorkbenchError):
    """A request parameter is missing, malformed or out of range."""


class DataError(WorkbenchError):
    """A data file, column or row cannot be read as the schema requires."""


class NotFoundError(WorkbenchError):
    """A model or result id is unknown."""


class ModelStateError(WorkbenchError):
    """The model exists but is not in a state that allows the operation."""


class StorageError(WorkbenchError):
    """Zipping, uploading or reading blob storage failed."""


class WorkbenchWarning(UserWarning):
    """A warning about the user's data or request (shown without an internal source line)."""


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that prints workbench warnings as ``DataWarning: message``, above progress bars.

    The default would print the workbench's own source line, which tells the user nothing; everything
    else goes to the previous handler unchanged.
    """
    if not issubclass(category, WorkbenchWarning):
        return _show_warning.previous(message, category, filename, lineno, file, line)
    text = f"{category.__name__}: {message}"
    target = file or sys.stderr
    try:
        try:
            from tqdm import tqdm
        except ImportError:
            target.write(text + "\n")
        else:
            tqdm.write(text, file=target)  # clears and redraws an active text progress bar
    except (AttributeError, OSError):
        pass  # no stderr (pythonw) or a closed one: warnings are never fatal


def install_warning_format() -> None:
    """Show :class:`WorkbenchWarning` without a source line (called once by ``import workbench``)."""
    if warnings.showwarning is not _show_warning:
        _show_warning.previous = warnings.showwarning
        warnings.showwarning = _show_warning


def file_not_found(path: str | os.PathLike[str], what: str = "the file",
                   code: str = ErrorCode.FILE_NOT_FOUND) -> DataError:
    """A not-found error that shows the absolute path tried (and the folder a relative one was read from)."""
    text = os.path.expanduser(os.fspath(path))
    note = "" if os.path.isabs(text) else f" (relative paths are read from {os.getcwd()})"
    return DataError(code, f"{what} does not exist{note}", file=os.path.abspath(text))
