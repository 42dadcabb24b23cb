"""Creating entities from the web app: the "New" links by role, the form, its id checks, the
linter's errors beside the fields, CSRF, and escaping."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Site, csrf_of
from tests.web.test_web_pages import form_of
from tests.web.test_web_xss import PAYLOAD, assert_inert

from jobgraph.domain.entities import Status
from jobgraph.domain.ids import Kind

STATEMENT = "When my bill arrives, I want to pay it on time, so I can avoid a late fee."


def new_form(site: Site, user: str, kind: str = "job") -> tuple[TestClient, dict[str, str]]:
    client = site.client(user)
    page = client.get(f"/new/{kind}")
    assert page.status_code == 200, page.text
    return client, form_of(page.text)


def field_block(html: str, name: str) -> str:
    """The markup of one field of the form: its input, help and findings."""
    start = html.index(f'id="f-{name}"')
    start = html.rindex('<div class="field', 0, start)
    end = html.find('<div class="field', start + 1)
    return html[start : end if end != -1 else len(html)]


def entity_count(site: Site) -> int:
    return sum(len(site.workspace.list(kind)) for kind in Kind)


def test_contributor_creates_a_job_and_sees_it(site: Site) -> None:
    client = site.client("cora")
    listing = client.get("/entities").text
    for kind in Kind:
        assert f'href="/new/{kind.value}">New {kind.value}</a>' in listing
    page = client.get("/new/job")
    assert page.status_code == 200
    assert '<label for="f-id">Id</label>' in page.text
    assert "job.pay-a-bill" in page.text  # the id's prefix is explained
    # every input has a label
    ids = re.findall(r'<(?:input|textarea|select) id="([^"]+)"', page.text)
    assert ids and all(f'<label for="{i}"' in page.text for i in ids)
    values = form_of(page.text)
    assert values["id"] == "job."
    values.update(
        id="job.split-a-bill",
        title="Split a bill",
        statement=STATEMENT,
        tags="billing\npayments",
        reason="from the October interviews",
    )
    response = client.post("/new/job", data=values)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/e/job.split-a-bill?created=1"
    shown = client.get(response.headers["location"]).text
    assert "Created as version 1." in shown
    assert "Split a bill" in shown and "avoid a late fee" in shown and "payments" in shown
    record = site.workspace.get("job.split-a-bill")
    assert record.entity.status is Status.DRAFT
    assert record.entity.owner == "cora"  # no owner given: the author owns it
    assert record.entity.tags == ["billing", "payments"]
    assert record.updated_by == "cora" and record.version == 1
    assert site.workspace.history("job.split-a-bill")[-1].reason == "from the October interviews"


def test_a_named_owner_and_an_id_from_the_title(site: Site) -> None:
    client, values = new_form(site, "olive", "outcome")
    values.update(
        id="outcome.",
        title="Minimise the time it takes to confirm a payment",
        job="job.resolve-billing-anomaly",
        statement="Minimise the time it takes to confirm a payment went through",
        owner="cami",
    )
    response = client.post("/new/outcome", data=values)
    assert response.status_code == 303, response.text
    new_id = "outcome.minimise-the-time-it-takes-to-confirm-a-payment"
    assert response.headers["location"] == f"/e/{new_id}?created=1"
    assert site.workspace.get(new_id).entity.owner == "cami"


def test_viewer_gets_no_new_link_and_cannot_create(site: Site) -> None:
    client = site.client("vic")
    listing = client.get("/entities").text
    assert "/new/" not in listing and "New job" not in listing
    page = client.get("/new/job")
    assert page.status_code == 403
    assert "create needs the role contributor" in page.text
    before = entity_count(site)
    response = client.post(
        "/new/job",
        data={
            "csrf_token": csrf_of(listing),
            "id": "job.sneaky",
            "title": "Sneaky",
            "statement": STATEMENT,
        },
    )
    assert response.status_code == 403
    assert entity_count(site) == before


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_create_without_the_csrf_token_is_refused(site: Site, token: str | None) -> None:
    client, values = new_form(site, "cora")
    values.update(id="job.no-token", title="No token", statement=STATEMENT)
    values.pop("csrf_token")
    if token:
        values["csrf_token"] = token
    for path in ("/new/job", "/new/job/lint"):
        response = client.post(path, data=values)
        assert response.status_code == 403, path
        assert "CSRF" in response.text
    assert "job.no-token" not in {r.id for r in site.workspace.list("job")}


def test_unknown_kind_is_not_found(site: Site) -> None:
    assert site.client("cora").get("/new/widget").status_code == 404


@pytest.mark.parametrize(
    ("typed", "status", "message"),
    [
        ("job.resolve-billing-anomaly", 409, "job.resolve-billing-anomaly already exists"),
        ("Job Pay A Bill", 422, "use &lt;kind&gt;.&lt;slug&gt; with lowercase letters"),
        ("job.pay--a-bill", 422, "use &lt;kind&gt;.&lt;slug&gt;"),
        ("outcome.pay-a-bill", 422, "the id of a new job starts with job."),
    ],
)
def test_bad_or_taken_id_is_refused_beside_the_id(
    site: Site, typed: str, status: int, message: str
) -> None:
    client, values = new_form(site, "cora")
    values.update(id=typed, title="Pay a bill <b>now</b>", statement=STATEMENT)
    before = entity_count(site)
    existing = site.workspace.get("job.resolve-billing-anomaly")
    response = client.post("/new/job", data=values)
    assert response.status_code == status
    assert "Not saved: fix the id." in response.text
    assert message in field_block(response.text, "id")
    kept = form_of(response.text)
    assert kept["id"] == typed and kept["title"] == "Pay a bill <b>now</b>"
    assert kept["statement"] == STATEMENT
    assert entity_count(site) == before
    assert site.workspace.get("job.resolve-billing-anomaly") == existing


def test_empty_statement_blocks_the_save_beside_the_field(site: Site) -> None:
    client, values = new_form(site, "cora")
    values.update(id="job.half-done", title="Half done", statement="", tags="kept\nas typed")
    before = entity_count(site)
    response = client.post("/new/job", data=values)
    assert response.status_code == 422
    assert "Not saved: fix the errors marked below." in response.text
    statement = field_block(response.text, "statement")
    assert "required; fill it in" in statement and "[invalid-field]" in statement
    kept = form_of(response.text)
    assert kept["id"] == "job.half-done" and kept["title"] == "Half done"
    assert kept["tags"] == "kept\nas typed"
    assert entity_count(site) == before


def test_lint_error_blocks_the_save_beside_the_field(site: Site) -> None:
    client, values = new_form(site, "cora", "outcome")
    values.update(
        id="outcome.dangling",
        title="Minimise the likelihood of a late fee",
        job="job.does-not-exist",
        statement="Minimise the likelihood of paying a late fee",
    )
    before = entity_count(site)
    response = client.post("/new/outcome", data=values)
    assert response.status_code == 422
    job = field_block(response.text, "job")
    assert "[dangling-reference]" in job and "job.does-not-exist" in job
    assert 'aria-invalid="true"' not in field_block(response.text, "id")
    kept = form_of(response.text)
    assert kept["job"] == "job.does-not-exist" and kept["id"] == "outcome.dangling"
    assert entity_count(site) == before


def test_warnings_are_saved_and_shown_on_the_page(site: Site) -> None:
    client, values = new_form(site, "cora")
    values.update(
        id="job.use-the-app",
        title="Use the app",
        statement="When my bill arrives, I want to use the app to pay it quickly.",
    )
    response = client.post("/new/job", data=values)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "[solution-word]" in page and "[vague-word]" in page


def test_live_lint_of_the_new_form(site: Site) -> None:
    client, values = new_form(site, "cora")
    values.update(id="job.typing", title="Typing", statement="When I log in to the portal.")
    response = client.post("/new/job/lint", data=values, headers={"HX-Request": "true"})
    assert response.status_code == 200
    block = re.search(
        r'<div id="f-statement-findings"[^>]*hx-swap-oob="true">(.*?)</div>', response.text, re.S
    )
    assert block and "[solution-word]" in block.group(1)
    assert "job.typing" not in {r.id for r in site.workspace.list("job")}


def test_payload_in_the_new_form_is_escaped(site: Site) -> None:
    client, values = new_form(site, "cora")
    values.update(id="job.xss-created", title=PAYLOAD, statement=PAYLOAD, tags=PAYLOAD)
    response = client.post("/new/job", data=values)
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert_inert(page.text, "new entity page")
    assert "&lt;script&gt;alert(" in page.text
    # refused forms echo what was typed, escaped
    for typed_id in ("job.xss-created", PAYLOAD):
        values.update(id=typed_id)
        refused = client.post("/new/job", data=values)
        assert refused.status_code in (409, 422)
        assert_inert(refused.text, f"refused form ({typed_id[:10]})")
        assert "&lt;/textarea&gt;&lt;script&gt;" in refused.text
    lint = client.post("/new/job/lint", data={**values, "importance": PAYLOAD})
    assert "is not a number" in lint.text
    assert_inert(lint.text, "live lint of the new form")


@pytest.mark.parametrize("kind", [k.value for k in Kind])
def test_every_kind_has_a_new_form_with_labelled_inputs(site: Site, kind: str) -> None:
    page = site.client("cora").get(f"/new/{kind}")
    assert page.status_code == 200
    assert f"<h1>New {kind}</h1>" in page.text
    assert re.search(
        rf"It starts with <code>{kind}\.</code>.*e\.g\. <code>{kind}\.[a-z]", page.text
    )
    ids = re.findall(r'<(?:input|textarea|select) id="([^"]+)"', page.text)
    assert "f-id" in ids and "f-title" in ids and "f-reason" in ids
    assert all(f'<label for="{i}"' in page.text for i in ids)
