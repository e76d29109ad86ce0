"""The application layer: the registry, the job runner, training and batch jobs, and the lifecycle rules.

Both front doors (:class:`~workbench.client.AnomalyDetectorClient` and
:class:`~workbench.multivariate.MultivariateModel`), the fleet API, the server and the
notebooks' helpers go through this layer; it calls the pure core (``contracts``, ``data``,
``mvad``, ``univariate``) and nothing above it.
"""
