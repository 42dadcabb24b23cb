"""The web app over a demo-like workspace: the contact-centre starter kit, a scored synthetic
survey, job panels saved on two dates, and one user per role.

The workspace is built once per session (scoring takes a moment) and copied for each test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import Clock

from jobgraph.analytics.odi import score
from jobgraph.api import ApiSettings, create_app
from jobgraph.auth import Access, Passwords, Role
from jobgraph.config import DATA_DIR, Settings
from jobgraph.demo import write_synthetic_survey
from jobgraph.metrics import JOB_PANEL
from jobgraph.service import Workspace
from jobgraph.store.repository import Observation, add_observations
from jobgraph.surveys import load_survey, save_scores

FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
PASSWORD = "correct horse battery"
USERS = {
    Role.VIEWER: "vic",
    Role.CONTRIBUTOR: "cora",
    Role.OWNER: "olive",
    Role.COUNCIL: "cami",
    Role.ADMIN: "ada",
}
# a draft job olive owns, for the edit and review tests
DRAFT_JOB = "job.settle-a-disputed-charge"
DRAFT = {
    "id": DRAFT_JOB,
    "title": "Settle a disputed charge",
    "owner": "olive",
    "statement": "When a charge on my account looks wrong, I want to get it settled, so I can "
    "stop worrying about what I owe.",
    "tags": ["billing"],
}
PANEL_JOBS = ("job.resolve-billing-anomaly", "job.handle-routine-inquiries-accurately")


def _panel(contacts: int, repeat: float, ces: float, completion: float) -> dict[str, float]:
    return {
        "contacts": contacts,
        "repeat_rate": repeat,
        "fcr": 1 - repeat,
        "job_completion_rate": completion,
        "goal_achieved_rate": completion - 0.05,
        "ces_mean": ces,
        "nps": -10.0,
        "window_days": 7,
    }


def build_site(root: Path) -> None:
    settings = Settings(user="alice", workspace=None, database_url=None)
    ws = Workspace.init(root, starter="contact-centre", author="alice", settings=settings)
    try:
        survey_path = root / DATA_DIR / "survey.csv"
        write_synthetic_survey(ws, survey_path)
        survey = load_survey(survey_path, "long")
        save_scores(ws, survey, score(survey, segment_by="persona", seed=0, n_boot=200))
        observations = [
            Observation(job, JOB_PANEL, day, "all", _panel(n, rep, ces, comp), "synthetic")
            for job in PANEL_JOBS
            for day, n, rep, ces, comp in (
                (date(2026, 10, 1), 900, 0.31, 2.6, 0.71),
                (date(2026, 11, 1), 950, 0.24, 1.8, 0.78),
            )
        ]
        add_observations(ws.kb, observations, "alice", ws.clock())
        ws.create(DRAFT, author="alice")
        access = Access(ws, passwords=FAST)
        for role, name in USERS.items():
            access.add_user(name, role, password=PASSWORD, actor="alice")
    finally:
        ws.close()


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web") / "site"
    build_site(root)
    return root


@dataclass
class Site:
    app: FastAPI
    workspace: Workspace
    root: Path

    def client(self, user: str | None = None) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        if user is not None:
            login(client, user)
        return client


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": user, "password": password, "csrf_token": csrf_of(page.text), "next": "/"},
    )
    assert response.status_code == 303, response.text


def copy_site(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


@pytest.fixture
def site(site_template: Path, tmp_path: Path) -> Iterator[Site]:
    root = copy_site(site_template, tmp_path / "site")
    ws = Workspace.open(
        root, settings=Settings(user="alice", workspace=None, database_url=None), clock=Clock()
    )
    app = create_app(ws, ApiSettings(webhooks=False), passwords=FAST)
    yield Site(app, ws, root)
    ws.close()
