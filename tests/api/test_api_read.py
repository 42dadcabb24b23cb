"""Reading through the API: health, OpenAPI, lists, search, paging, ids, redirects, history."""

from __future__ import annotations

from tests.api.conftest import Api, job

from jobgraph.auth import Role


def test_health_needs_no_credentials(api: Api) -> None:
    r = api.client().get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_lists_every_route_with_the_error_shape(api: Api) -> None:
    spec = api.client().get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/entities",
        "/api/v1/entities/{entity_id}",
        "/api/v1/entities/{entity_id}/history",
        "/api/v1/entities/{entity_id}/diff",
        "/api/v1/entities/{entity_id}/links",
        "/api/v1/entities/{entity_id}/evidence",
        "/api/v1/entities/{entity_id}/approve",
        "/api/v1/auth/login",
        "/api/v1/tokens",
        "/api/v1/users",
    ):
        assert path in paths, path
    assert "ErrorBody" in spec["components"]["schemas"]
    assert {"HTTPBearer", "APIKeyCookie"} <= set(spec["components"]["securitySchemes"])


def test_without_credentials_every_route_answers_401_in_the_error_shape(api: Api) -> None:
    client = api.client()
    for method, path in [
        ("GET", "/api/v1/entities"),
        ("GET", "/api/v1/entities/job.x"),
        ("POST", "/api/v1/entities"),
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/users"),
    ]:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path)
        assert r.json()["error"]["code"] == "not_authenticated"
        assert r.headers["WWW-Authenticate"] == "Bearer"
    r = api.client(token="jg_not-a-real-token").get("/api/v1/entities")
    assert r.status_code == 401


def test_get_by_id_gives_the_entity_and_its_version_as_etag(api: Api) -> None:
    api.seed(job("pay-a-bill"))
    r = api.client(Role.VIEWER).get("/api/v1/entities/job.pay-a-bill")
    assert r.status_code == 200
    body = r.json()
    assert r.headers["ETag"] == '"1"'
    assert body["id"] == "job.pay-a-bill"
    assert body["version"] == 1
    assert body["data"]["statement"].startswith("When I notice")
    assert body["created_by"] == "alice"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_ids_are_404_with_a_hint(api: Api) -> None:
    api.seed(job("pay-a-bill"))
    client = api.client(Role.VIEWER)
    r = client.get("/api/v1/entities/job.pay-a-bil")
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["code"] == "not_found"
    assert "job.pay-a-bill" in error["message"]
    assert client.get("/api/v1/entities/not an id").status_code == 404
    r = client.get("/api/v1/no-such-route")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_merged_ids_redirect_to_their_successor(api: Api) -> None:
    old = api.seed(job("old-way"))
    new = api.seed(job("new-way"))
    api.workspace.merge(old, new, expected_version=1, author="alice")
    client = api.client(Role.VIEWER)
    r = client.get(f"/api/v1/entities/{old}", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"].endswith(f"/api/v1/entities/{new}")
    assert client.get(f"/api/v1/entities/{old}").json()["id"] == new
    r = client.get(f"/api/v1/entities/{old}?follow=false")
    assert r.json()["status"] == "retired" and r.json()["data"]["successor"] == new


def test_lists_filter_search_and_page_with_a_total_count(api: Api) -> None:
    for i in range(7):
        api.seed(job(f"pay-bill-{i}"))
    api.seed(job("dispute-a-charge", owner="bob"), status="in_review")
    client = api.client(Role.VIEWER)
    r = client.get("/api/v1/entities", params={"kind": "job", "limit": 3, "offset": 3})
    body = r.json()
    assert body["count"] == 8 and body["limit"] == 3 and body["offset"] == 3
    assert [e["id"] for e in body["data"]] == ["job.pay-bill-2", "job.pay-bill-3", "job.pay-bill-4"]
    assert client.get("/api/v1/entities", params={"status": "in_review"}).json()["count"] == 1
    assert client.get("/api/v1/entities", params={"owner": "bob"}).json()["count"] == 1
    found = client.get("/api/v1/entities", params={"q": "dispute charge"}).json()
    assert [e["id"] for e in found["data"]] == ["job.dispute-a-charge"]
    none = client.get("/api/v1/entities", params={"q": "100%_nothing"}).json()
    assert none == {"data": [], "count": 0, "limit": 50, "offset": 0}


def test_bad_query_parameters_get_the_same_error_shape(api: Api) -> None:
    client = api.client(Role.VIEWER)
    for params in ({"limit": 0}, {"kind": "dragon"}, {"status": "lost"}, {"offset": -1}):
        r = client.get("/api/v1/entities", params=params)
        assert r.status_code == 422, params
        error = r.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["details"]["errors"][0]["loc"][0] == "query"


def test_history_diff_links_and_evidence(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    api.workspace.update(jid, {"title": "Pay my bill"}, expected_version=1, reason="clearer")
    api.seed(
        {
            "id": "evidence.interviews",
            "title": "Interviews",
            "evidence_kind": "interview",
            "source": "12 interviews",
            "collected_on": "2026-10-01",
            "summary": "People want to pay quickly.",
            "supports": [jid],
        }
    )
    client = api.client(Role.VIEWER)
    history = client.get(f"/api/v1/entities/{jid}/history").json()
    assert history["count"] == 2
    assert [(h["version"], h["action"], h["reason"]) for h in history["data"]] == [
        (1, "create", "created"),
        (2, "update", "clearer"),
    ]
    diff = client.get(f"/api/v1/entities/{jid}/diff", params={"from": 1, "to": 2}).json()
    assert diff["data"] == [
        {"path": "title", "change": "changed", "old": "Pay a bill", "new": "Pay my bill"}
    ]
    r = client.get(f"/api/v1/entities/{jid}/diff", params={"from": 1, "to": 9})
    assert r.status_code == 400 and "versions 1 to 2" in r.json()["error"]["message"]
    links = client.get(f"/api/v1/entities/{jid}/links").json()
    assert links["incoming"] == [{"id": "evidence.interviews", "field": "supports"}]
    out = client.get("/api/v1/entities/evidence.interviews/links").json()["outgoing"]
    assert out == [{"id": jid, "field": "supports"}]
    evidence = client.get(f"/api/v1/entities/{jid}/evidence").json()
    assert [e["id"] for e in evidence["data"]] == ["evidence.interviews"]


def test_findings_list_what_needs_attention(api: Api) -> None:
    api.seed(job("pay-a-bill", owner=None))
    r = api.client(Role.VIEWER).get("/api/v1/findings")
    assert r.status_code == 200
    assert r.json()["count"] == len(r.json()["data"]) > 0


def test_an_app_opens_a_workspace_folder_and_closes_it_at_shutdown(api: Api) -> None:
    from fastapi.testclient import TestClient

    from jobgraph.api import ApiSettings, create_app

    app = create_app(api.workspace.root, ApiSettings(webhooks=True))
    with TestClient(app, base_url="https://testserver") as client:
        client.headers["Authorization"] = f"Bearer {api.tokens[Role.VIEWER]}"
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/api/v1/auth/me").json()["user"]["name"] == "vic"
