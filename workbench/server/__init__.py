"""The v1.1-compatible HTTP service (``workbench serve``)."""
from workbench.server.app import API_PREFIX, ServerSettings, create_app

__all__ = ["API_PREFIX", "ServerSettings", "create_app"]
