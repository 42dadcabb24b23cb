"""Writing through the API: create, update with If-Match, review actions, sessions, tokens."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, STATEMENT, Api, job

from jobgraph.auth import Role


def test_create_returns_201_with_location_and_etag(api: Api) -> None:
    r = api.client(Role.CONTRIBUTOR).post(
        "/api/v1/entities",
        json={
            "data": {"kind": "job", "title": "Pay a bill", "statement": STATEMENT},
            "reason": "x",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == "job.pay-a-bill" and body["status"] == "draft"
    assert body["created_by"] == "cora"
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"].endswith("/api/v1/entities/job.pay-a-bill")
    assert api.workspace.history("job.pay-a-bill")[0].author == "cora"


def test_invalid_entities_are_422_with_what_to_fix(api: Api) -> None:
    client = api.client(Role.CONTRIBUTOR)
    r = client.post("/api/v1/entities", json={"data": {"kind": "job", "title": "X", "colour": 1}})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_entity" and "colour" in error["message"]
    r = client.post("/api/v1/entities", json={"data": {"title": "no kind"}})
    assert r.status_code == 422
    r = client.post("/api/v1/entities", json={"nonsense": True})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.post(
        "/api/v1/entities", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_linter_errors_come_back_as_findings(api: Api) -> None:
    data = {"id": "outcome.x", "title": "X", "job": "job.missing", "statement": "Be fast"}
    r = api.client(Role.CONTRIBUTOR).post("/api/v1/entities", json={"data": data})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    codes = {f["code"] for f in error["details"]["findings"]}
    assert codes and all(f["entity_id"] == "outcome.x" for f in error["details"]["findings"])


def test_a_taken_id_is_409(api: Api) -> None:
    api.seed(job("pay-a-bill"))
    r = api.client(Role.CONTRIBUTOR).post("/api/v1/entities", json={"data": job("pay-a-bill")})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_id"


def test_updates_need_if_match_and_stale_ones_get_412_with_the_current_version(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    client = api.client(Role.CONTRIBUTOR)
    url = f"/api/v1/entities/{jid}"
    change = {"changes": {"title": "Pay my bill"}, "reason": "clearer"}
    r = client.patch(url, json=change)
    assert r.status_code == 428 and r.json()["error"]["code"] == "version_required"
    r = client.patch(url, json=change, headers={"If-Match": "*"})
    assert r.status_code == 400
    r = client.patch(url, json=change, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert r.json()["title"] == "Pay my bill" and r.json()["updated_by"] == "cora"
    r = client.patch(url, json={"changes": {"title": "Lost"}}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    error = r.json()["error"]
    assert error["code"] == "stale_version"
    assert error["details"] == {"id": jid, "expected_version": 1, "current_version": 2}
    assert r.headers["ETag"] == '"2"'
    assert api.workspace.get(jid).entity.title == "Pay my bill"
    r = client.patch(url, json={"changes": {"id": "job.other"}}, headers={"If-Match": "2"})
    assert r.status_code == 422


def test_the_review_workflow(api: Api) -> None:
    jid = api.seed(job("pay-a-bill"))
    cora, olive = api.client(Role.CONTRIBUTOR), api.client(Role.OWNER)
    url = f"/api/v1/entities/{jid}"
    r = cora.post(f"{url}/submit", headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    r = olive.post(f"{url}/reject", json={"reason": ""}, headers={"If-Match": '"2"'})
    assert r.status_code == 422
    r = olive.post(f"{url}/reject", json={"reason": "add a metric"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["status"] == "draft"
    r = olive.post(f"{url}/reject", json={"reason": "again"}, headers={"If-Match": '"3"'})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    cora.post(f"{url}/submit", headers={"If-Match": '"3"'})
    r = olive.post(f"{url}/approve", json={"reason": "good"}, headers={"If-Match": '"4"'})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    # a contributor's edit of approved content goes back to review
    r = cora.patch(url, json={"changes": {"title": "Pay it"}}, headers={"If-Match": '"5"'})
    assert r.json()["status"] == "in_review"
    actions = [(h.action, h.author) for h in api.workspace.history(jid)]
    assert actions[1:] == [
        ("submit", "cora"),
        ("reject", "olive"),
        ("submit", "cora"),
        ("approve", "olive"),
        ("update", "cora"),
    ]


def test_retire_and_merge_keep_ids_resolving(api: Api) -> None:
    a, b, c = (api.seed(job(s)) for s in ("a-way", "b-way", "c-way"))
    olive = api.client(Role.OWNER)
    r = olive.post(f"/api/v1/entities/{a}/merge", json={"into": b}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["data"]["successor"] == b
    r = olive.post(
        f"/api/v1/entities/{b}/retire", json={"successor": c}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200
    assert olive.get(f"/api/v1/entities/{a}").json()["id"] == c


def test_user_text_is_stored_and_returned_as_inert_json_data(api: Api) -> None:
    payloads = [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "javascript:alert(1)",
        "{{7*7}} ${7*7}",
    ]
    client = api.client(Role.CONTRIBUTOR)
    data = job("xss", title=payloads[0], description=payloads[1], tags=payloads[2:])
    r = client.post("/api/v1/entities", json={"data": data, "reason": payloads[1]})
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    back = client.get("/api/v1/entities/job.xss").json()
    assert back["title"] == payloads[0]
    assert back["data"]["description"] == payloads[1]
    assert back["data"]["tags"] == payloads[2:]
    assert client.get("/api/v1/entities/job.xss/history").json()["data"][0]["reason"] == payloads[1]


def test_sessions_sign_in_with_a_secure_cookie_and_need_csrf_to_write(api: Api) -> None:
    client = api.client()
    r = client.post("/api/v1/auth/login", json={"name": "cora", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    for attribute in ("jobgraph_session=", "HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute.lower() in cookie.lower()
    csrf = r.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").json()["user"]["name"] == "cora"
    new = {"data": job("by-session")}
    r = client.post("/api/v1/entities", json=new)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = client.post("/api/v1/entities", json=new, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_sign_in_is_rate_limited(api: Api) -> None:
    client = api.client()
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"name": "cora", "password": "bad password"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"name": "cora", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["code"] == "too_many_attempts"


def test_tokens_are_shown_once_scoped_and_revocable(api: Api) -> None:
    vic = api.client(Role.VIEWER)
    r = vic.post("/api/v1/tokens", json={"name": "dashboard", "scope": "read"})
    assert r.status_code == 201
    created = r.json()
    secret = created["secret"]
    listed = vic.get("/api/v1/tokens").json()["data"]
    assert all("secret" not in t for t in listed)
    assert {t["name"] for t in listed} == {"tests", "dashboard"}
    cora_read = api.access.create_token("cora", name="ro", scope="read", actor="cora").secret
    r = api.client(token=cora_read).post("/api/v1/entities", json={"data": job("ro")})
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    assert api.client(token=secret).get("/api/v1/entities").status_code == 200
    r = api.client(Role.CONTRIBUTOR).delete(f"/api/v1/tokens/{created['id']}")
    assert r.status_code == 400  # not cora's token
    r = vic.delete(f"/api/v1/tokens/{created['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert api.client(token=secret).get("/api/v1/entities").status_code == 401


def test_admins_manage_users(api: Api) -> None:
    ada = api.client(Role.ADMIN)
    r = ada.post(
        "/api/v1/users", json={"name": "dana", "role": "contributor", "password": PASSWORD}
    )
    assert r.status_code == 201 and r.json()["role"] == "contributor"
    assert "password" not in r.json() and r.json()["has_password"] is True
    r = ada.patch("/api/v1/users/dana", json={"role": "owner"})
    assert r.json()["role"] == "owner"
    r = ada.patch("/api/v1/users/dana", json={"active": False})
    assert r.json()["active"] is False
    r = api.client().post("/api/v1/auth/login", json={"name": "dana", "password": PASSWORD})
    assert r.status_code == 401
    names = [u["name"] for u in ada.get("/api/v1/users").json()["data"]]
    assert "dana" in names
    r = ada.post("/api/v1/users", json={"name": "dana", "role": "viewer"})
    assert r.status_code == 409
    r = ada.post("/api/v1/tokens", json={"name": "for-olive", "user": "olive"})
    assert r.status_code == 201 and r.json()["user"] == "olive"
    r = api.client(Role.COUNCIL).post("/api/v1/tokens", json={"name": "x", "user": "olive"})
    assert r.status_code == 403
    log = ada.get("/api/v1/audit", params={"limit": 4}).json()["data"]
    assert [(e["actor"], e["action"], e["target"]) for e in log] == [
        ("ada", "token.create", "olive"),
        ("dana", "login.failed", "dana"),
        ("ada", "user.disable", "dana"),
        ("ada", "user.role", "dana"),
    ]
    assert api.client(Role.COUNCIL).get("/api/v1/audit").status_code == 403


def test_nul_characters_are_refused_on_every_backend(api: Api) -> None:
    client = api.client(Role.ADMIN)
    for method, path, body in [
        ("POST", "/api/v1/entities", {"data": job("x", title="a\x00b")}),
        ("GET", "/api/v1/entities?q=a%00b", None),
        ("GET", "/api/v1/entities/job.a%00b", None),
        ("POST", "/api/v1/users", {"name": "a\x00b"}),
        ("POST", "/api/v1/auth/login", {"name": "a\x00b", "password": "x"}),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 400, (method, path, r.text)
        assert "NUL" in r.json()["error"]["message"]
    r = client.post("/api/v1/entities", json={"data": job("x", title="a\\u0000b")})
    assert r.status_code == 201  # a backslash and "u0000" are just text
