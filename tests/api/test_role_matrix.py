"""Each role x each action: allowed, or refused with 403 and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from tests.api.conftest import USERS, Api, job

from jobgraph.auth import Role


@dataclass(frozen=True)
class Case:
    """An action, the lowest role that may take it, and how to take it."""

    minimum: Role
    call: Callable[[Api, Role], httpx.Response]


def _v(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def _read(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    return api.client(role).get(f"/api/v1/entities/{jid}")


def _list(api: Api, role: Role) -> httpx.Response:
    return api.client(role).get("/api/v1/entities", params={"q": "bill"})


def _history(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    return api.client(role).get(f"/api/v1/entities/{jid}/history")


def _create(api: Api, role: Role) -> httpx.Response:
    return api.client(role).post("/api/v1/entities", json={"data": job("target")})


def _edit(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    return api.client(role).patch(
        f"/api/v1/entities/{jid}", json={"changes": {"title": "New"}}, headers=_v(1)
    )


def _submit(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    return api.client(role).post(f"/api/v1/entities/{jid}/submit", headers=_v(1))


def _approve_own(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"), status="in_review")
    return api.client(role).post(f"/api/v1/entities/{jid}/approve", headers=_v(2))


def _approve_others(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target", owner="bob"), status="in_review")
    return api.client(role).post(f"/api/v1/entities/{jid}/approve", headers=_v(2))


def _reject(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"), status="in_review")
    return api.client(role).post(
        f"/api/v1/entities/{jid}/reject", json={"reason": "needs evidence"}, headers=_v(2)
    )


def _retire(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    return api.client(role).post(f"/api/v1/entities/{jid}/retire", headers=_v(1))


def _merge(api: Api, role: Role) -> httpx.Response:
    jid = api.seed(job("target"))
    into = api.seed(job("other"))
    return api.client(role).post(
        f"/api/v1/entities/{jid}/merge", json={"into": into}, headers=_v(1)
    )


def _own_tokens(api: Api, role: Role) -> httpx.Response:
    return api.client(role).post("/api/v1/tokens", json={"name": "mine"})


def _list_users(api: Api, role: Role) -> httpx.Response:
    return api.client(role).get("/api/v1/users")


def _add_user(api: Api, role: Role) -> httpx.Response:
    return api.client(role).post("/api/v1/users", json={"name": "newbie", "role": "viewer"})


def _webhooks(api: Api, role: Role) -> httpx.Response:
    return api.client(role).post("/api/v1/webhooks", json={"url": "https://crm.example/hook"})


CASES = {
    "read": Case(Role.VIEWER, _read),
    "list": Case(Role.VIEWER, _list),
    "history": Case(Role.VIEWER, _history),
    "create": Case(Role.CONTRIBUTOR, _create),
    "edit": Case(Role.CONTRIBUTOR, _edit),
    "submit": Case(Role.CONTRIBUTOR, _submit),
    "approve-own": Case(Role.OWNER, _approve_own),
    "approve-others": Case(Role.COUNCIL, _approve_others),
    "reject": Case(Role.OWNER, _reject),
    "retire": Case(Role.OWNER, _retire),
    "merge": Case(Role.OWNER, _merge),
    "own-tokens": Case(Role.VIEWER, _own_tokens),
    "list-users": Case(Role.ADMIN, _list_users),
    "add-user": Case(Role.ADMIN, _add_user),
    "add-webhook": Case(Role.ADMIN, _webhooks),
}


@pytest.mark.parametrize("action", list(CASES))
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_role_matrix(api: Api, role: Role, action: str) -> None:
    case = CASES[action]
    response = case.call(api, role)
    if role.rank >= case.minimum.rank:
        assert response.status_code < 300, response.text
        return
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "permission_denied"
    # nothing was written: every revision is still the seeding council member's
    authors = {r.author for e in api.workspace.list() for r in api.workspace.history(e.id)}
    assert authors <= {"alice"}
    assert [u.name for u in api.access.users()] == sorted(USERS.values())


def test_the_matrix_covers_every_role_and_action() -> None:
    assert {c.minimum for c in CASES.values()} == set(Role)
