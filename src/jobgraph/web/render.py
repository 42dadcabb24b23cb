"""Templates, the signed-in user, CSRF, and the one place that maps errors to HTML pages.

Pages are Jinja2 templates with autoescaping on: every value a template prints is escaped
unless it is :class:`markupsafe.Markup` made here (the charts' SVG), never user text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobgraph.auth.access import Access, Principal
from jobgraph.auth.errors import NotAuthenticated
from jobgraph.auth.roles import Action
from jobgraph.domain.entities import Status
from jobgraph.domain.ids import Kind
from jobgraph.errors import JobgraphError
from jobgraph.service import Workspace

log = logging.getLogger("jobgraph.web")

HERE = Path(__file__).parent
SESSION_COOKIE = "jobgraph_session"  # the API's cookie: one sign-in serves both
LOGIN_CSRF_COOKIE = "jobgraph_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

STATUS_LABELS = {
    Status.DRAFT: "Draft",
    Status.IN_REVIEW: "In review",
    Status.APPROVED: "Approved",
    Status.RETIRED: "Retired",
}


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _status(value: Status | str | None) -> str:
    if value is None:
        return "missing"
    return STATUS_LABELS.get(Status(value), str(value))


def _number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _entity_url(entity_id: str) -> str:
    return "/e/" + quote(entity_id, safe="")


def _yaml(value: Any) -> str:
    """Nested values (a scenario's steps, an evidence's forces) as they read in an export."""
    text: str = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
    return text.strip()


environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "svg", "xml"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    when=_when, status_label=_status, number=_number, entity_url=_entity_url, yaml=_yaml
)
environment.globals.update(
    Kind=Kind, Status=Status, Action=Action, kinds=list(Kind), id_prefixes=[k.value for k in Kind]
)


class LoginRequired(Exception):
    """Not signed in: the page redirects to the sign-in form."""


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def access(request: Request) -> Access:
    acc: Access = request.app.state.access
    return acc


def optional_user(request: Request) -> Principal | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return access(request).authenticate_session(secret)
    except NotAuthenticated:
        return None


def current_user(request: Request) -> Principal:
    """The signed-in user (a page dependency); anyone else is sent to the sign-in form."""
    who = optional_user(request)
    if who is None:
        raise LoginRequired()
    request.state.user = who
    return who


async def checked_form(request: Request, who: Principal) -> dict[str, str]:
    """The posted form, once its CSRF token (form field or header) matches the session's."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    sent = fields.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER)
    Access.check_csrf(who, sent)
    return fields


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no //host or scheme)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:
        return "/"
    return target


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    who: Principal | None = getattr(request.state, "user", None)
    values = {
        "request": request,
        "user": who,
        "csrf": who.csrf_token if who and who.csrf_token else "",
        "path": request.url.path,
        "workspace_name": workspace(request).config.workspace.name,
        **(context or {}),
    }
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    # pages show who is signed in and their CSRF token: never from a shared cache
    response.headers["Cache-Control"] = "no-store"
    return response


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


# --- errors ---------------------------------------------------------------------------------

TITLES = {
    400: "That cannot be done as asked",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    412: "Someone saved first",
    422: "Not valid",
    428: "Version missing",
    429: "Too many attempts",
    500: "Something went wrong",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    if getattr(request.state, "user", None) is None:
        request.state.user = optional_user(request)
    return render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )


def error_response(request: Request, exc: Exception) -> Response:
    """The HTML answer for any error a page raises; the API's mapping decides the status."""
    from jobgraph.api.errors import classify

    if isinstance(exc, LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if isinstance(exc, JobgraphError):
        status, _ = classify(exc)
        if status == 500:
            log.error("internal error: %s", exc, exc_info=exc)
            return error_page(request, 500, "Internal error; the server log has the details.")
        if isinstance(exc, NotAuthenticated):
            return RedirectResponse("/login", status_code=303)
        return error_page(request, status, str(exc))
    if isinstance(exc, StarletteHTTPException):
        return error_page(request, exc.status_code, str(exc.detail))
    if isinstance(exc, RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        return error_page(request, 400, f"The request is not valid: {where}")
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "Internal error; the server log has the details.")


class PageRoute(APIRoute):
    """A route whose errors become HTML pages (the API's handlers answer JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every error, mapped in one place
                return error_response(request, exc)

        return page_handler
