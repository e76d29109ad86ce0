"""The multivariate core: the network, its scoring, the detector, inference and artifacts.

Everything here runs in any process (a notebook, a server thread, a Dask worker) and imports
nothing from the application layer: no registry, no jobs.  The pandas front door
``MultivariateModel`` lives in :mod:`workbench.multivariate` (also ``workbench.MultivariateModel``).
"""
