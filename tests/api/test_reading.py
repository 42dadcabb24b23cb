"""Reading an entity by id: the fast path answers as the route does, cached bodies never go
stale (whichever process writes), and revoking access takes effect on the next request."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api, job

from jobgraph.api.reading import EntityReader, FastEntityReads
from jobgraph.auth import Access, Role
from jobgraph.service import Workspace


def test_the_fast_path_answers_exactly_as_the_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[int] = []
    answer = FastEntityReads._answer

    def spy(self: FastEntityReads, scope: Any) -> Any:
        result = answer(self, scope)
        answered.append(result[0] if result else 0)
        return result

    monkeypatch.setattr(FastEntityReads, "_answer", spy)
    jid = api.seed(job("pay-a-bill"))
    client = api.client(Role.VIEWER)
    fast = client.get(f"/api/v1/entities/{jid}")  # no query string: the fast path
    routed = client.get(f"/api/v1/entities/{jid}?follow=true")  # the FastAPI route
    assert answered == [0]  # the token's first use goes to the route, to be recorded
    fast = client.get(f"/api/v1/entities/{jid}")
    assert answered == [0, 200]
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    for header in ("content-type", "etag", "content-length", "x-content-type-options"):
        assert fast.headers[header] == routed.headers[header], header
    assert fast.json()["data"]["statement"] == job("pay-a-bill")["statement"]


def test_a_write_from_another_process_is_seen_by_the_next_read(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    client = api.client(Role.VIEWER)
    reader: EntityReader = api.app.state.reader
    for _ in range(2):
        assert client.get(f"/api/v1/entities/{jid}").json()["title"] == "Pay a bill"
    assert reader._cache[jid].version == 1
    # another process: its own engine and connections on the same database
    other = Workspace.open(api.workspace.root, settings=api.workspace.settings)
    try:
        other.update(jid, {"title": "Pay my bill"}, expected_version=1, author="alice")
    finally:
        other.close()
    for path in (f"/api/v1/entities/{jid}", f"/api/v1/entities/{jid}?follow=true"):
        r = client.get(path)
        assert r.headers["ETag"] == '"2"', path
        assert r.json()["title"] == "Pay my bill", path
    # a write through the API is seen at once as well
    r = api.client(Role.OWNER).patch(
        f"/api/v1/entities/{jid}",
        json={"changes": {"title": "Pay it"}},
        headers={"If-Match": '"2"'},
    )
    assert r.status_code == 200
    assert client.get(f"/api/v1/entities/{jid}").json()["title"] == "Pay it"


def test_retiring_behind_a_cached_entity_redirects_on_the_next_read(api: Api) -> None:
    old, new = api.seed(job("old-way")), api.seed(job("new-way"))
    client = api.client(Role.VIEWER)
    assert client.get(f"/api/v1/entities/{old}").status_code == 200  # now cached
    api.workspace.merge(old, new, expected_version=1, author="alice")
    r = client.get(f"/api/v1/entities/{old}", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(f"/entities/{new}")
    r = client.get(f"/api/v1/entities/{old}?follow=false")
    assert r.json()["status"] == "retired" and r.headers["ETag"] == '"2"'


def test_if_none_match_answers_304_while_the_version_is_current(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    client = api.client(Role.VIEWER)
    for suffix in ("", "?follow=true"):
        path = f"/api/v1/entities/{jid}{suffix}"
        r = client.get(path, headers={"If-None-Match": '"1"'})
        assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == '"1"'
        assert client.get(path, headers={"If-None-Match": 'W/"1"'}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"7", "1"'}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"7"'}).status_code == 200
    api.workspace.update(jid, {"title": "Pay my bill"}, expected_version=1)
    r = client.get(f"/api/v1/entities/{jid}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'


def test_revoking_a_token_in_another_process_refuses_the_next_request(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    new = api.access.create_token("vic", name="crm", actor="ada")
    client = api.client(token=new.secret)
    assert client.get(f"/api/v1/entities/{jid}").status_code == 200
    assert client.get("/api/v1/entities").status_code == 200
    # the CLI or another server process: an Access of its own on the same database
    other = Workspace.open(api.workspace.root, settings=api.workspace.settings)
    try:
        Access(other).revoke_token(new.token.id, actor="ada")
    finally:
        other.close()
    for path in (f"/api/v1/entities/{jid}", f"/api/v1/entities/{jid}?follow=true"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/v1/entities").status_code == 401


def test_disabling_a_user_or_lowering_a_role_takes_effect_at_once(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    editor = api.client(Role.CONTRIBUTOR)
    assert editor.get(f"/api/v1/entities/{jid}").status_code == 200
    api.access.set_role("cora", Role.VIEWER, actor="ada")
    r = editor.patch(
        f"/api/v1/entities/{jid}", json={"changes": {"title": "X y"}}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 403
    api.access.set_active("cora", False, actor="ada")
    assert editor.get(f"/api/v1/entities/{jid}").status_code == 401


def test_token_use_is_recorded_by_reads_on_the_fast_path(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    new = api.access.create_token("vic", name="crm", actor="ada")
    assert api.access.token(new.token.id).last_used_at is None
    assert api.client(token=new.secret).get(f"/api/v1/entities/{jid}").status_code == 200
    assert api.access.token(new.token.id).last_used_at is not None


def test_the_cache_is_bounded(api: Api) -> None:
    ids = [api.seed(job(f"pay-bill-{i}")) for i in range(5)]
    reader = EntityReader(api.workspace.kb, size=3)
    for i in ids:
        body = reader.read(i)
        assert body is not None and body.entity_id == i
    assert list(reader._cache) == ids[2:]
    assert reader.read("job.nothing-here") is None
