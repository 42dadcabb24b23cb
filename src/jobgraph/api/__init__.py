"""The REST API (FastAPI) under /api/v1: a thin shell over the workspace and the access layer."""

from jobgraph.api.app import create_app
from jobgraph.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
