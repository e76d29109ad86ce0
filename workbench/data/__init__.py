"""Data sources, schemas, alignment and blob upload (the v1.1 data-preparation step)."""
from workbench.data.align import AlignedData, Column, align
from workbench.data.prepare import DataWarning, PreparedData, from_frame, load, variables_from_frame
from workbench.data.sources import SourcePolicy, resolve
from workbench.data.tables import CsvDialect

__all__ = ["AlignedData", "Column", "CsvDialect", "DataWarning", "PreparedData", "SourcePolicy", "align", "from_frame", "load", "resolve", "variables_from_frame"]
