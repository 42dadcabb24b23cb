"""The demo's sign-ins: `jobgraph demo` makes one user per demo role with a fresh password,
prints them with the command that serves the web app, and they can sign in."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from tests.web.conftest import FAST, Site, login

from jobgraph.analytics.odi import ScoreTable
from jobgraph.api import ApiSettings, create_app
from jobgraph.auth import Access, Role
from jobgraph.cli.demo import _print_web
from jobgraph.config import Settings
from jobgraph.demo import DEMO_USERS, Demo, add_demo_users
from jobgraph.service import Workspace


def test_demo_users_can_sign_in(tmp_path: Path) -> None:
    settings = Settings(user="demo", workspace=None, database_url=None)
    ws = Workspace.init(tmp_path / "demo", starter="contact-centre", settings=settings)
    try:
        logins = add_demo_users(ws, passwords=FAST)
        assert [(x.name, x.role) for x in logins] == [(n, r) for n, r, _ in DEMO_USERS]
        assert len({x.password for x in logins}) == len(logins)  # fresh, distinct
        assert all(len(x.password) >= 12 for x in logins)
        roles = {u.name: u.role for u in Access(ws).users()}
        assert roles["demo-council"] is Role.COUNCIL
        # the owner is named as the owner of the starter kit's entities, so approving works
        owned = ws.list(owner="cx-research-lead")
        assert len(owned) > 10
        app = create_app(ws, ApiSettings(webhooks=False), passwords=FAST)
        site = Site(app, ws, ws.root)
        for x in logins:
            client = site.client()
            login(client, x.name, x.password)
            assert f'{x.name} <span class="role">({x.role.value})' in client.get("/").text

        out = io.StringIO()
        demo = Demo(
            ws,
            tmp_path / "survey.csv",
            ScoreTable([], None, 100, 0, 0.95, []),
            None,
            None,
            logins,
        )
        _print_web(Console(file=out, width=120), demo)
        printed = out.getvalue()
        assert f"jobgraph serve --workspace {ws.root}" in printed
        assert "http://127.0.0.1:8000/" in printed
        for x in logins:
            assert x.name in printed and x.password in printed
    finally:
        ws.close()
