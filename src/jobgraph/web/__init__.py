"""The web app: server-rendered pages (Jinja2, htmx) over the governed workspace.

``router`` holds every page; ``jobgraph.api.create_app`` includes it, so one server answers the
API under /api/v1 and the pages at /. Pages share the API's sign-in session.
"""

from __future__ import annotations

from fastapi import APIRouter

from jobgraph.web import create, dashboards, pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(create.router)
router.include_router(dashboards.router)

__all__ = ["router"]
