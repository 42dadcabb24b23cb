"""Stored XSS: a payload in every text field of every kind renders inert on every page that
shows it (the pages, the forms, the history and the charts' SVG)."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from tests.web.conftest import Site

from jobgraph.domain.entities import model_for
from jobgraph.domain.ids import Kind
from jobgraph.web.forms import field_specs

PAYLOAD = (
    "</textarea><script>alert('xss')</script>\"><img src=x onerror=alert(1)><svg onload=alert(2)>"
)
# what must never reach a page unescaped
RAW = ("<script>alert(", "<img src=x", "<svg onload", "</textarea><script")

JOB = "job.resolve-billing-anomaly"
PERSONA = "persona.reassurance-seeking-bill-payer"

BASE: dict[Kind, dict[str, Any]] = {
    Kind.JOB: {"id": "job.xss", "statement": "s"},
    Kind.OUTCOME: {"id": "outcome.xss", "job": JOB, "statement": "s"},
    Kind.PERSONA: {"id": "persona.xss", "jobs": [JOB]},
    Kind.SCENARIO: {"id": "scenario.xss", "persona": PERSONA, "job": JOB, "circumstance": "c"},
    Kind.STACK: {"id": "stack.xss", "parent": "job.xss", "child": JOB},
    Kind.EVIDENCE: {
        "id": "evidence.xss",
        "evidence_kind": "interview",
        "source": "s",
        "collected_on": "2026-11-01",
        "summary": "s",
        "supports": [JOB],
    },
    Kind.METRIC: {
        "id": "metric.xss",
        "measures": "m",
        "unit": "u",
        "direction": "increase",
        "jobs": [JOB],
    },
}


def _filled(model: type[BaseModel]) -> dict[str, Any]:
    """An instance of a nested model (a journey step, the forces, an intent) as data, with
    the payload in every field that accepts free text (ids and the like refuse it)."""
    data: dict[str, Any] = {}
    for name in model.model_fields:
        for value in (PAYLOAD, [PAYLOAD]):
            try:
                model.model_validate({**data, name: value})
            except ValidationError as exc:
                if any(e["loc"][:1] == (name,) for e in exc.errors()):
                    continue
            data[name] = value
            break
    model.model_validate(data)
    return data


def _nested(kind: Kind, name: str) -> Any:
    annotation = model_for(kind).model_fields[name].annotation
    while typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        return [_filled(typing.get_args(annotation)[0])]
    return _filled(annotation)


def poisoned(kind: Kind) -> dict[str, Any]:
    """The kind's entity with the payload in every free-text field."""
    data = dict(BASE[kind])
    for spec in field_specs(kind):
        if spec.name in data and spec.name != "statement" and spec.name != "summary":
            continue
        if spec.widget in ("text", "textarea"):
            data[spec.name] = PAYLOAD
        elif spec.widget == "lines" and spec.name not in ("jobs", "outcomes", "supports"):
            data[spec.name] = [PAYLOAD, "plain"]
        elif spec.widget == "pairs":
            data[spec.name] = {PAYLOAD: PAYLOAD}
        elif spec.widget == "yaml":
            data[spec.name] = _nested(kind, spec.name)
    data["title"] = PAYLOAD
    data.pop("panel_column", None)  # must name a panel column
    return data


def assert_inert(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"{where}: {raw!r} reached the page unescaped"


@pytest.fixture
def poisoned_site(site: Site) -> Site:
    ws = site.workspace
    for kind in Kind:
        ws.create(poisoned(kind), author="alice")
    # payloads in titles the dashboards draw: an outcome with scores, a job with panels, a
    # persona with a scenario
    for entity_id in (ws.list("outcome")[0].id, JOB, PERSONA):
        record = ws.get(entity_id)
        ws.update(entity_id, {"title": PAYLOAD}, expected_version=record.version, author="alice")
    return site


def test_every_text_field_renders_inert_everywhere(poisoned_site: Site) -> None:
    client = poisoned_site.client("cami")
    pages = ["/", "/entities", "/entities?q=alert", "/dashboards/metrics"]
    pages += ["/dashboards/landscape", "/dashboards/personas"]
    for kind in Kind:
        entity_id = f"{kind.value}.xss"
        pages += [f"/e/{entity_id}", f"/e/{entity_id}/edit", f"/e/{entity_id}/history"]
    pages += [f"/e/{JOB}", f"/e/{JOB}/history?from=1&to=2", f"/e/{PERSONA}"]
    escaped_seen = 0
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.text, path)
        escaped_seen += "&lt;script&gt;alert(" in response.text
    # the payload is shown (escaped) on every page, not dropped
    assert escaped_seen == len(pages)


def test_payload_in_charts_is_escaped(poisoned_site: Site) -> None:
    client = poisoned_site.client("vic")
    for path in ("/dashboards/landscape", "/dashboards/metrics", "/dashboards/personas"):
        html = client.get(path).text
        svgs = html.split("<svg")[1:]
        assert svgs, path
        assert any("&lt;script&gt;" in svg for svg in svgs), path
        assert_inert(html, path)


def test_payload_in_form_posts_and_error_pages_is_escaped(poisoned_site: Site) -> None:
    client = poisoned_site.client("cora")
    edit = client.get("/e/job.xss/edit").text
    assert edit.count("&lt;/textarea&gt;&lt;script&gt;") >= 3
    # an error message that quotes the input
    response = client.get("/entities", params={"kind": PAYLOAD})
    assert response.status_code == 400
    assert_inert(response.text, "error page")
    response = client.get("/login", params={"next": PAYLOAD})
    assert_inert(response.text, "login page")


def test_payload_in_live_lint_is_escaped(poisoned_site: Site) -> None:
    client = poisoned_site.client("cora")
    page = client.get("/e/job.xss/edit").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    data = {"csrf_token": csrf.group(1), "title": PAYLOAD, "statement": PAYLOAD}
    data["importance"] = PAYLOAD  # unreadable: the error message quotes it
    response = client.post("/e/job.xss/lint", data=data)
    assert response.status_code == 200
    assert "is not a number" in response.text
    assert_inert(response.text, "live lint")
