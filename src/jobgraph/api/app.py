"""The FastAPI application: ``create_app(workspace_or_path)``.

Most routes are sync functions: SQLAlchemy and the workspace are synchronous, FastAPI runs them
in its thread pool, and the workspace is safe to share between threads (a pooled engine and one
transaction per operation). Reading one entity, the most frequent request, is async and mostly
answered before FastAPI's routing (see jobgraph.api.reading); docs/api.md has the figures.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobgraph.api import errors
from jobgraph.api.deps import reject_nul
from jobgraph.api.reading import EntityReader, FastEntityReads
from jobgraph.api.routes import access as access_routes
from jobgraph.api.routes import entities as entity_routes
from jobgraph.api.routes import webhooks as webhook_routes
from jobgraph.api.schemas import ErrorBody, Health
from jobgraph.api.settings import ApiSettings
from jobgraph.auth.access import Access
from jobgraph.auth.governed import GovernedWorkspace
from jobgraph.auth.secrets import Passwords
from jobgraph.browse import ping
from jobgraph.service import Workspace
from jobgraph.webhooks import Dispatcher, Webhooks

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The request cannot be carried out as given.",
        401: "Not signed in: send a Bearer token or a session cookie.",
        403: "Your role or token scope does not allow it, or a governance rule refuses it.",
        404: "No such entity.",
        409: "Duplicate id or a status change the governance rules do not allow.",
        412: "Stale version: someone saved first. The body and ETag give the current one.",
        422: "Invalid entity or request; linter findings in details.findings.",
        428: "Send If-Match with the version you read.",
        429: "Too many failed sign-ins; wait Retry-After seconds.",
    }.items()
}


class SecurityHeaders:
    """Pure ASGI middleware: responses are never sniffed into HTML nor framed elsewhere."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _without_telemetry() -> dict[str, Any]:
    """FastAPI's native OpenTelemetry (newer releases) asks on every request whether a
    provider is configured; jobgraph configures none, so it is switched off."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(
    workspace: Workspace | str | Path,
    settings: ApiSettings | None = None,
    *,
    passwords: Passwords | None = None,
) -> FastAPI:
    """The API over a workspace (an open one, or the folder of one, opened here and closed at
    shutdown)."""
    from jobgraph import __version__

    settings = settings or ApiSettings()
    owned = not isinstance(workspace, Workspace)
    base = workspace if isinstance(workspace, Workspace) else Workspace.open(Path(workspace))
    access = Access(base, passwords=passwords)
    governed = GovernedWorkspace(base, access)
    hooks = Webhooks(base)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = Dispatcher(hooks) if settings.webhooks else None
        if dispatcher:
            dispatcher.start()
        try:
            yield
        finally:
            if dispatcher:
                dispatcher.stop()
            hooks.close()
            if owned:
                base.close()

    app = FastAPI(
        title="jobgraph",
        version=__version__,
        summary="A governed Jobs-to-be-Done and persona knowledge base.",
        description="Every entity by stable id, with governance, history and optimistic "
        "concurrency (ETag / If-Match). Errors share one shape: see ErrorBody.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs else None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(reject_nul)],
        **_without_telemetry(),
    )
    app.state.workspace = governed
    app.state.access = access
    app.state.settings = settings
    app.state.webhooks = hooks
    app.state.reader = reader = EntityReader(base.kb)
    errors.install(app)
    app.add_middleware(FastEntityReads, reader=reader, access=access)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so on every answer

    @app.get("/healthz", response_model=Health, tags=["health"], responses={})
    def healthz() -> Any:
        """Liveness and database reachability; needs no credentials."""
        ping(governed)
        return {"status": "ok", "version": __version__}

    app.include_router(entity_routes.router)
    app.include_router(access_routes.router)
    app.include_router(webhook_routes.router)
    from jobgraph.web import router as web_router  # here: the web pages import the API

    app.include_router(web_router)
    return app


def app_from_env() -> FastAPI:
    """The app for the workspace in $JOBGRAPH_WORKSPACE: uvicorn's factory for several
    worker processes (`jobgraph serve --workers N`)."""
    from jobgraph.config import Settings

    return create_app(Workspace.open(Settings().workspace))
