"""Data sources, schemas, alignment and blob upload (the v1.1 data-preparation step)."""
from workbench.data.align import AlignedData, align
from workbench.data.prepare import DataWarning, PreparedData, from_frame, load
from workbench.data.sources import SourcePolicy, resolve

__all__ = ["AlignedData", "DataWarning", "PreparedData", "SourcePolicy", "align", "from_frame", "load", "resolve"]
