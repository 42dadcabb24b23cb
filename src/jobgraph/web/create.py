"""Creating an entity: the "New job" (outcome, persona, ...) form, its live linter and its save.

The form is the edit form plus an id. The id is checked here first (a clear message beside the
id field); the workspace then applies the same rules as the API's create: roles, governance,
the linter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobgraph.api.errors import classify
from jobgraph.auth.access import Access, Principal
from jobgraph.auth.roles import Action
from jobgraph.domain.entities import Entity, from_data
from jobgraph.domain.findings import Finding, Level
from jobgraph.domain.ids import Kind, parse_id
from jobgraph.errors import (
    DuplicateId,
    EntityNotFound,
    InvalidEntity,
    JobgraphError,
    UserError,
    ValidationFailed,
)
from jobgraph.service import Workspace
from jobgraph.web import forms
from jobgraph.web.pages import User, Ws, inline_findings, live_lint_fragment
from jobgraph.web.queries import findings_for
from jobgraph.web.render import PageRoute, checked_form, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# shown beside the id input as a model of a good id
EXAMPLE_IDS = {
    Kind.JOB: "job.pay-a-bill",
    Kind.OUTCOME: "outcome.minimise-time-to-confirm-a-payment",
    Kind.PERSONA: "persona.first-time-bill-payer",
    Kind.SCENARIO: "scenario.paying-a-bill-on-the-bus",
    Kind.STACK: "stack.pay-a-bill-needs-sign-in",
    Kind.EVIDENCE: "evidence.billing-interviews-2026-10",
    Kind.METRIC: "metric.payment-confirmation-time",
}


def _kind(raw: str) -> Kind:
    """The kind named in the address: only the exact prefix (``/new/job``), else 404."""
    try:
        return Kind(raw)
    except ValueError:
        raise StarletteHTTPException(404, f"no page /new/{raw}") from None


def _new_page(
    request: Request,
    kind: Kind,
    values: dict[str, str],
    *,
    entity_id: str,
    findings: list[Finding] | None = None,
    id_error: str = "",
    error: str = "",
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    by_field, other = inline_findings(findings or [])
    return render(
        request,
        "new.html",
        {
            "kind": kind,
            "example_id": EXAMPLE_IDS[kind],
            "entity_id": entity_id,
            "id_error": id_error,
            "specs": forms.field_specs(kind),
            "values": values,
            "by_field": by_field,
            "other_findings": other,
            "conflict": {},
            "error": error,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/new/{kind}", response_class=HTMLResponse)
def new_form(request: Request, kind: str, who: User) -> Response:
    Access.require(who, Action.CREATE)
    k = _kind(kind)
    return _new_page(request, k, forms.default_values(k), entity_id=f"{k.value}.")


def _check_id(ws: Workspace, kind: Kind, entity_id: str) -> tuple[int, str]:
    """The status and message of what is wrong with the id typed for a new ``kind`` (200 and
    "" when it is free and well formed; an empty id or the bare prefix asks for one made from
    the title)."""
    if entity_id in ("", f"{kind.value}."):
        return 200, ""
    try:
        id_kind, _ = parse_id(entity_id)
    except ValueError as exc:
        return 422, str(exc)
    if id_kind is not kind:
        return 422, (
            f"{entity_id!r} is the id of a {id_kind.value}; the id of a new {kind.value} "
            f"starts with {kind.value}., e.g. {EXAMPLE_IDS[kind]}"
        )
    try:
        ws.get(entity_id, follow=False)
    except EntityNotFound:
        return 200, ""
    return 409, (
        f"{entity_id} already exists; ids are never reused, so pick another id "
        "(or open that entity and edit it)"
    )


def _field_findings(exc: ValidationError, entity_id: str) -> list[Finding]:
    """The model's objections as findings about the form's fields (a missing statement is
    shown beside the statement input)."""
    found = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field = ".".join(loc) if loc else None
        message = "required; fill it in" if err["type"] == "missing" else err["msg"]
        found.append(Finding(Level.ERROR, "invalid-field", message, entity_id, field))
    return found


def _draft(
    kind: Kind, entity_id: str, form: dict[str, str], who: Principal
) -> tuple[dict[str, Any], Entity | None, list[Finding]]:
    """The data ``Workspace.create`` gets, the entity it would build (None when the model
    refuses it), and the model's objections by field. Raises UserError for unreadable text."""
    changes = forms.parse_form(kind, form)
    data = {k: v for k, v in changes.items() if v is not None}
    data.setdefault("owner", who.name)
    checked = entity_id if entity_id not in ("", f"{kind.value}.") else f"{kind.value}.new"
    try:
        entity = from_data({**data, "id": checked})
    except ValidationError as exc:
        return data, None, _field_findings(exc, checked)
    except ValueError as exc:
        raise InvalidEntity(str(exc)) from None
    return data, entity, []


@router.post("/new/{kind}", response_class=HTMLResponse)
async def create(request: Request, kind: str, who: User, ws: Ws) -> Response:
    form = await checked_form(request, who)
    Access.require(who, Action.CREATE)
    k = _kind(kind)
    entity_id = form.get("id", "").strip()[:200]
    reason = form.get("reason", "").strip()[:500]
    submitted = {spec.name: form.get(spec.name, "") for spec in forms.field_specs(k)}

    def again(status_code: int, error: str, **kwargs: Any) -> HTMLResponse:
        return _new_page(
            request,
            k,
            submitted,
            entity_id=entity_id,
            error=error,
            reason=reason,
            status_code=status_code,
            **kwargs,
        )

    status, id_error = await run_in_threadpool(_check_id, ws, k, entity_id)
    if id_error:
        return again(status, "Not saved: fix the id.", id_error=id_error)
    try:
        data, _, objections = _draft(k, entity_id, form, who)
        if objections:
            return again(422, "Not saved: fix the errors marked below.", findings=objections)
        if entity_id in ("", f"{k.value}."):
            data["kind"] = k.value
        else:
            data["id"] = entity_id
        record = await run_in_threadpool(
            lambda: ws.create(data, author=who.name, reason=reason or "created in the web app")
        )
    except ValidationFailed as exc:
        return again(422, "Not saved: fix the errors marked below.", findings=exc.findings)
    except DuplicateId as exc:
        return again(409, "Not saved: fix the id.", id_error=str(exc))
    except (InvalidEntity, UserError) as exc:
        status, _ = classify(exc)
        if status == 403:
            raise
        return again(status, f"Not saved: {exc}")
    return RedirectResponse("/e/" + quote(record.id, safe="") + "?created=1", status_code=303)


@router.post("/new/{kind}/lint", response_class=HTMLResponse)
async def live_lint(request: Request, kind: str, who: User, ws: Ws) -> Response:
    """The linter's findings for the new entity as typed so far; nothing is saved."""
    form = await checked_form(request, who)
    Access.require(who, Action.CREATE)
    k = _kind(kind)
    entity_id = form.get("id", "").strip()[:200]
    error = ""
    findings: list[Finding] = []
    try:
        _, entity, findings = _draft(k, entity_id, form, who)
        if entity is not None:
            findings = await run_in_threadpool(findings_for, ws, entity)
    except JobgraphError as exc:
        error = str(exc)
    return live_lint_fragment(request, forms.field_specs(k), findings, error)
