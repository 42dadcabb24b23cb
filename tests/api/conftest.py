"""The API in-process: one user per role, each with a write token, over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jobgraph.api import ApiSettings, create_app
from jobgraph.auth import Access, Passwords, Role
from jobgraph.service import Workspace

# cheap Argon2 parameters: the tests check behaviour, not the cost
FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))

# one user per role; olive owns the entities the tests govern
USERS = {
    Role.VIEWER: "vic",
    Role.CONTRIBUTOR: "cora",
    Role.OWNER: "olive",
    Role.COUNCIL: "cami",
    Role.ADMIN: "ada",
}
PASSWORD = "correct horse battery"

STATEMENT = (
    "When I notice an unexpected charge on my bill, I want to resolve the billing anomaly, "
    "so I can trust my bill without fear of service interruption."
)


def job(slug: str, *, owner: str = "olive", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"job.{slug}",
        "title": slug.replace("-", " ").capitalize(),
        "owner": owner,
        "statement": STATEMENT,
        **extra,
    }


@dataclass
class Api:
    app: FastAPI
    workspace: Workspace
    access: Access
    tokens: dict[Role, str]

    def client(self, role: Role | None = None, *, token: str | None = None) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        secret = token or (self.tokens[role] if role else None)
        if secret:
            client.headers["Authorization"] = f"Bearer {secret}"
        return client

    def seed(self, data: dict[str, Any], *, status: str = "draft") -> str:
        """Create an entity directly through the workspace, as the workspace's council."""
        record = self.workspace.create(data, author="alice")
        if status in ("in_review", "approved"):
            record = self.workspace.submit(record.id, expected_version=record.version)
        if status == "approved":
            record = self.workspace.approve(
                record.id, expected_version=record.version, author="alice"
            )
        return record.id


@pytest.fixture
def api(make_workspace: Callable[..., Workspace]) -> Iterator[Api]:
    ws = make_workspace()
    app = create_app(ws, ApiSettings(), passwords=FAST)
    access: Access = app.state.access
    tokens = {}
    for role, name in USERS.items():
        access.add_user(name, role, password=PASSWORD, actor="alice")
        tokens[role] = access.create_token(name, name="tests", scope="write", actor="alice").secret
    yield Api(app, ws, access, tokens)


@pytest.fixture
def as_role(api: Api) -> Callable[[Role], TestClient]:
    return api.client
