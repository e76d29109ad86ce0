"""Fleets: one model per entity (asset, server, pump), hundreds of them, trained and scored in parallel on Dask.

A front door beside :mod:`workbench.client` and :mod:`workbench.multivariate` (it imports neither):
``train_fleet`` / ``detect_fleet`` / ``fleet_report`` (:mod:`workbench.fleet.api`); what a fleet is
(:mod:`~workbench.fleet.sources`); what runs on workers (:mod:`~workbench.fleet.tasks`, core only); the Dask
client (:mod:`~workbench.fleet.engine`); the ranked view (:mod:`~workbench.fleet.report`,
:mod:`~workbench.fleet.viz`).
"""
from workbench.fleet.api import (
           detect_fleet,
           fleet_detections,
           fleet_names,
           fleet_report,
           train_fleet,
)
from workbench.fleet.engine import open_client
from workbench.fleet.report import summary_line, write_report
from workbench.fleet.sources import Entity, Fleet, load_fleet

__all__ = ["Entity", "Fleet", "detect_fleet", "fleet_detections", "fleet_names", "fleet_report", "load_fleet",
           "open_client", "summary_line", "train_fleet", "write_report"]
