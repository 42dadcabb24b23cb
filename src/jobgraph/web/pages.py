"""The pages: sign-in, home, search, an entity with its relationships, the edit form, the
review workflow and history. Handlers parse the request, call the governed workspace, and
render a template; the rules (roles, governance, linter, concurrency) live in the workspace."""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobgraph.api.errors import classify
from jobgraph.auth.access import Access, Principal
from jobgraph.auth.errors import NotAuthenticated, TooManyAttempts
from jobgraph.auth.roles import Action
from jobgraph.browse import page as browse_page
from jobgraph.domain.diff import FieldChange
from jobgraph.domain.entities import Status, from_data, to_data
from jobgraph.domain.findings import Finding
from jobgraph.domain.ids import Kind
from jobgraph.errors import (
    InvalidEntity,
    JobgraphError,
    StaleVersion,
    UserError,
    ValidationFailed,
)
from jobgraph.service import Workspace
from jobgraph.store.repository import Record
from jobgraph.web import forms
from jobgraph.web.queries import attention, findings_for, neighbourhood
from jobgraph.web.render import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageRoute,
    checked_form,
    current_user,
    new_login_csrf,
    optional_user,
    render,
    safe_next,
    workspace,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

User = Annotated[Principal, Depends(current_user)]
Ws = Annotated[Workspace, Depends(workspace)]
PAGE_SIZE = 50


def _entity_url(entity_id: str, suffix: str = "") -> str:
    return "/e/" + quote(entity_id, safe="") + suffix


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- signing in ---------------------------------------------------------------------------


def _login_page(
    request: Request, *, next_url: str, name: str = "", error: str = "", status_code: int = 200
) -> HTMLResponse:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        {"next": next_url, "name": name, "error": error, "login_csrf": token},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        secure=request.app.state.settings.secure_cookies,
        samesite="strict",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    request.state.user = optional_user(request)
    if request.state.user is not None:
        return _see(safe_next(next))
    return _login_page(request, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Sign in: a double-submit token (cookie and form field) guards the form itself."""
    # read as a plain form (not Form parameters): the app's NUL check reads the body first
    form = await request.form()
    name, password, csrf_token, next_url = (
        str(form.get(key) or "")[:limit]
        for key, limit in (("name", 200), ("password", 1000), ("csrf_token", 200), ("next", 2000))
    )
    request.state.user = None
    target = safe_next(next_url)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            next_url=target,
            name=name,
            error="The sign-in form expired or was not sent from this site; please try again.",
            status_code=403,
        )
    acc: Access = request.app.state.access
    client = request.client.host if request.client else "unknown"
    try:
        session = await run_in_threadpool(acc.login, name, password, client=client)
    except (NotAuthenticated, TooManyAttempts) as exc:
        status, _ = classify(exc)
        return _login_page(request, next_url=target, name=name, error=str(exc), status_code=status)
    response = _see(target)
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=int(acc.policy.session_lifetime.total_seconds()),
        httponly=True,
        secure=request.app.state.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, who: User) -> Response:
    await checked_form(request, who)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await run_in_threadpool(request.app.state.access.logout, secret)
    response = _see("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- reading ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, who: User, ws: Ws) -> Response:
    return render(request, "home.html", {"attention": attention(ws)})


@router.get("/entities", response_class=HTMLResponse)
def entity_list(
    request: Request,
    who: User,
    ws: Ws,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    try:
        kind_value = Kind.parse(kind) if kind else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        status_value = Status(status) if status else None
    except ValueError:
        raise UserError(
            f"unknown status {status!r}; choose one of: {', '.join(s.value for s in Status)}"
        ) from None
    found = browse_page(
        ws,
        kind=kind_value,
        status=status_value,
        owner=owner or None,
        text=q or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-found.count // PAGE_SIZE))
    query = {"q": q, "kind": kind, "status": status, "owner": owner}
    base = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return render(
        request,
        "list.html",
        {
            "found": found,
            "q": q,
            "kind": kind_value.value if kind_value else "",
            "status": status_value.value if status_value else "",
            "owner": owner,
            "page": page,
            "pages": pages,
            "base": base,
        },
    )


def _entity_page(
    request: Request,
    ws: Workspace,
    record: Record,
    *,
    alert: str = "",
    notice: str = "",
    status_code: int = 200,
    reject_reason: str = "",
) -> HTMLResponse:
    hood = neighbourhood(ws, record)
    fields = [(k, v) for k, v in to_data(record.entity).items() if k not in ("id", "title")]
    latest_panel = [o for o in hood.panels if o.segment == "all"][-1:] if hood.panels else []
    return render(
        request,
        "entity.html",
        {
            "record": record,
            "entity": record.entity,
            "fields": fields,
            "hood": hood,
            "panel": latest_panel[0] if latest_panel else None,
            "alert": alert,
            "notice": notice,
            "reject_reason": reject_reason,
        },
        status_code=status_code,
    )


@router.get("/e/{entity_id}", response_class=HTMLResponse)
def entity_page(
    request: Request,
    entity_id: str,
    who: User,
    ws: Ws,
    saved: Annotated[int | None, Query()] = None,
    done: Annotated[str, Query(max_length=20)] = "",
    moved_from: Annotated[str, Query(alias="from", max_length=200)] = "",
    created: Annotated[int | None, Query()] = None,
) -> Response:
    record = ws.get(entity_id)
    if record.id != entity_id:
        # a merged or retired id: its stable address leads to the successor
        return RedirectResponse(
            _entity_url(record.id) + "?from=" + quote(entity_id, safe=""), status_code=302
        )
    notice = ""
    if moved_from:
        notice = f"{moved_from} was retired or merged; this is its successor."
    if saved:
        notice = f"Saved as version {record.version}."
    if created:
        notice = f"Created as version {record.version}."
    if done in DONE:
        notice = f"{DONE[done]} (version {record.version})."
    return _entity_page(request, ws, record, notice=notice)


# --- editing ------------------------------------------------------------------------------


def live_lint_fragment(
    request: Request, specs: list[forms.FieldSpec], findings: list[Finding], error: str
) -> Response:
    """The htmx fragment of a form's live lint: findings beside their fields, the rest and
    any error below."""
    by_field, other = inline_findings(findings)
    return render(
        request,
        "_live_lint.html",
        {"specs": specs, "by_field": by_field, "other_findings": other, "error": error},
    )


def inline_findings(findings: list[Finding]) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Findings by the form field they are about (``steps[0].name`` is about ``steps``), and
    the ones no input of the form shows."""
    by_field: dict[str, list[Finding]] = defaultdict(list)
    other: list[Finding] = []
    for f in findings:
        name = (f.field or "").split(".")[0].split("[")[0]
        if name and name not in forms.NOT_EDITED:
            by_field[name].append(f)
        else:
            other.append(f)
    return dict(by_field), other


def _edit_page(
    request: Request,
    record: Record,
    values: dict[str, str],
    findings: list[Finding],
    *,
    version: int,
    error: str = "",
    conflict: dict[str, tuple[str, str]] | None = None,
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    by_field, other = inline_findings(findings)
    return render(
        request,
        "edit.html",
        {
            "record": record,
            "entity": record.entity,
            "specs": forms.field_specs(record.entity.kind),
            "values": values,
            "by_field": by_field,
            "other_findings": other,
            "version": version,
            "error": error,
            "conflict": conflict or {},
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/e/{entity_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, entity_id: str, who: User, ws: Ws) -> Response:
    Access.require(who, Action.EDIT)
    record = ws.get(entity_id)
    if record.id != entity_id:
        return RedirectResponse(_entity_url(record.id, "/edit"), status_code=302)
    return _edit_page(
        request,
        record,
        forms.form_values(record.entity),
        findings_for(ws, record.entity),
        version=record.version,
    )


def _preview(ws: Workspace, record: Record, changes: dict[str, Any]) -> list[Finding]:
    """What the linter says about the entity as the form would save it."""
    data = to_data(record.entity)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    try:
        entity = from_data(data)
    except (ValidationError, ValueError) as exc:
        raise InvalidEntity(f"not a valid {record.entity.kind.value} yet: {exc}") from None
    return findings_for(ws, entity)


@router.post("/e/{entity_id}/edit", response_class=HTMLResponse)
async def save(request: Request, entity_id: str, who: User, ws: Ws) -> Response:
    form = await checked_form(request, who)
    Access.require(who, Action.EDIT)
    record = await run_in_threadpool(ws.get, entity_id, follow=False)
    reason = form.get("reason", "").strip()[:500]
    try:
        version = int(form.get("version", ""))
    except ValueError:
        raise UserError("the form has no version; open the edit form again") from None
    submitted = {
        spec.name: form.get(spec.name, "") for spec in forms.field_specs(record.entity.kind)
    }
    try:
        changes = forms.parse_form(record.entity.kind, form)
        saved = await run_in_threadpool(
            lambda: ws.update(
                entity_id,
                changes,
                expected_version=version,
                author=who.name,
                reason=reason or "edited in the web app",
            )
        )
    except StaleVersion:
        # never overwrite: show what is stored now, and what this person tried to save
        current = await run_in_threadpool(ws.get, entity_id, follow=False)
        now = forms.form_values(current.entity)
        conflict = {k: (now.get(k, ""), v) for k, v in submitted.items() if now.get(k, "") != v}
        findings = await run_in_threadpool(findings_for, ws, current.entity)
        return _edit_page(
            request,
            current,
            now,
            findings,
            version=current.version,
            error=(
                f"Not saved: {current.updated_by} saved version {current.version} after you "
                f"opened version {version}. The form now shows their version; your values are "
                "listed beside each field that differs. Apply your changes again and save."
            ),
            conflict=conflict,
            reason=reason,
            status_code=409,
        )
    except ValidationFailed as exc:
        return _edit_page(
            request,
            record,
            submitted,
            exc.findings,
            version=version,
            error="Not saved: fix the errors marked below.",
            reason=reason,
            status_code=422,
        )
    except (InvalidEntity, UserError) as exc:
        status, _ = classify(exc)
        return _edit_page(
            request,
            record,
            submitted,
            [],
            version=version,
            error=f"Not saved: {exc}",
            reason=reason,
            status_code=status,
        )
    return _see(_entity_url(saved.id, "?saved=1"))


@router.post("/e/{entity_id}/lint", response_class=HTMLResponse)
async def live_lint(request: Request, entity_id: str, who: User, ws: Ws) -> Response:
    """The linter's findings for the form as typed so far (htmx swaps them in beside each
    field); nothing is saved."""
    form = await checked_form(request, who)
    record = await run_in_threadpool(ws.get, entity_id, follow=False)
    specs = forms.field_specs(record.entity.kind)
    error = ""
    findings: list[Finding] = []
    try:
        changes = forms.parse_form(record.entity.kind, form)
        findings = await run_in_threadpool(_preview, ws, record, changes)
    except JobgraphError as exc:
        error = str(exc)
    return live_lint_fragment(request, specs, findings, error)


# --- review workflow ----------------------------------------------------------------------

DONE = {"submit": "Submitted for review", "approve": "Approved", "reject": "Rejected"}
ACTIONS = {
    "submit": Action.SUBMIT,
    "approve": Action.APPROVE,
    "reject": Action.REJECT,
}


@router.post("/e/{entity_id}/{action}", response_class=HTMLResponse)
async def review(request: Request, entity_id: str, action: str, who: User, ws: Ws) -> Response:
    """Submit for review, approve, or reject with a reason. Refusals (role, ownership, a
    stale version, a missing reason) show on the entity's page."""
    if action not in ACTIONS:
        raise StarletteHTTPException(404, f"no page {request.url.path}")
    form = await checked_form(request, who)
    reason = form.get("reason", "").strip()[:1000]
    try:
        Access.require(who, ACTIONS[action])
        try:
            version = int(form.get("version", ""))
        except ValueError:
            raise UserError("the form has no version; reload the page") from None
        kwargs: dict[str, Any] = {"expected_version": version, "author": who.name}
        if action == "reject":
            record = await run_in_threadpool(lambda: ws.reject(entity_id, reason=reason, **kwargs))
        elif action == "approve":
            record = await run_in_threadpool(
                lambda: ws.approve(entity_id, reason=reason or "approved", **kwargs)
            )
        else:
            record = await run_in_threadpool(
                lambda: ws.submit(entity_id, reason=reason or "submitted for review", **kwargs)
            )
    except JobgraphError as exc:
        status, _ = classify(exc)
        if status == 500:
            raise
        current = await run_in_threadpool(ws.get, entity_id, follow=False)
        message = str(exc)
        if isinstance(exc, StaleVersion):
            message = (
                f"Not done: {current.updated_by} changed it (now version {current.version}) "
                "after you opened the page. Check the current values below and try again."
            )
        return await run_in_threadpool(
            lambda: _entity_page(
                request,
                ws,
                current,
                alert=f"Refused — {message}",
                status_code=status,
                reject_reason=reason if action == "reject" else "",
            )
        )
    # redirect after the change, so reloading the page does not post it again
    return _see(_entity_url(record.id, f"?done={action}"))


# --- history ------------------------------------------------------------------------------


def _side(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True).strip()
    return str(value)


@router.get("/e/{entity_id}/history", response_class=HTMLResponse)
def history(
    request: Request,
    entity_id: str,
    who: User,
    ws: Ws,
    from_version: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> Response:
    revisions = ws.history(entity_id)
    latest = revisions[-1].version
    to_v = to_version or latest
    from_v = from_version or max(1, to_v - 1)
    changes: list[FieldChange] = ws.diff(entity_id, from_v, to_v) if from_v != to_v else []
    rows = [(c.path, _side(c.old), _side(c.new), c.kind) for c in changes]
    return render(
        request,
        "history.html",
        {
            "entity_id": entity_id,
            "title": revisions[-1].snapshot.get("title", entity_id),
            "revisions": list(reversed(revisions)),
            "from_v": from_v,
            "to_v": to_v,
            "rows": rows,
        },
    )
