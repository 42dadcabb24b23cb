"""`jobgraph serve`, `jobgraph users`, `jobgraph tokens` through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from jobgraph.auth import Access, NotAuthenticated
from jobgraph.cli.app import state
from jobgraph.cli.web import is_loopback, register
from jobgraph.errors import UserError
from jobgraph.service import Workspace

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(sqlite_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs the web commands registered on a bare app, against the test workspace."""
    app = typer.Typer()

    @app.callback()
    def _main() -> None:
        state.workspace = sqlite_ws.root

    register(app)
    monkeypatch.setattr(state, "workspace", sqlite_ws.root)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input)

    return run


def test_users_are_added_listed_promoted_and_disabled(cli: Any, sqlite_ws: Workspace) -> None:
    r = cli("users", "add", "dana", "--role", "owner", "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "Added dana (owner)" in r.output
    assert Access(sqlite_ws).login("dana", PASSWORD).principal.name == "dana"
    assert cli("users", "set-role", "dana", "council", "--author", "alice").exit_code == 0
    assert cli("users", "disable", "dana").exit_code == 0
    listed = json.loads(cli("users", "list", "--json").output)
    assert listed["data"] == [
        {"name": "dana", "role": "council", "active": False, "password": True}
    ]
    assert cli("users", "enable", "dana").exit_code == 0
    r = cli("users", "add", "dana", "--no-password")
    assert isinstance(r.exception, UserError)
    r = cli("users", "add", "eve", "--password-stdin", input="short\n")
    assert isinstance(r.exception, UserError) and "at least 10" in str(r.exception)


def test_a_token_is_printed_once_and_can_be_revoked(cli: Any, sqlite_ws: Workspace) -> None:
    cli("users", "add", "bot", "--role", "contributor", "--no-password")
    r = cli("tokens", "create", "bot", "--name", "crm-sync", "--scope", "write")
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("jg_")
    # no token cache: this stands for another server process after the cache's few seconds
    access = Access(sqlite_ws, token_cache_seconds=0)
    assert access.authenticate_token(secret).name == "bot"
    listed = cli("tokens", "list", "--json").output
    assert secret not in listed
    token = json.loads(listed)["data"][0]
    assert (token["user"], token["name"], token["scope"]) == ("bot", "crm-sync", "write")
    assert cli("tokens", "revoke", str(token["id"])).exit_code == 0
    with pytest.raises(NotAuthenticated):
        access.authenticate_token(secret)
    assert "revoked" in cli("tokens", "list").output


def test_serve_refuses_other_addresses_without_users(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append(kw))
    r = cli("serve", "--host", "0.0.0.0")
    assert isinstance(r.exception, UserError)
    assert "without authentication" in str(r.exception) and "users add" in str(r.exception)
    assert calls == []
    r = cli("serve", "--port", "8123")
    assert r.exit_code == 0, r.output
    assert calls[-1] == {"host": "127.0.0.1", "port": 8123, "log_level": "warning"}
    cli("users", "add", "ada", "--role", "admin", "--no-password")
    assert cli("serve", "--host", "0.0.0.0").exit_code == 0
    assert calls[-1]["host"] == "0.0.0.0"


def test_serve_takes_a_workspace_folder(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.append(app))
    r = cli("serve", "--workspace", str(tmp_path / "nowhere"))
    assert isinstance(r.exception, UserError)
    assert seen == []


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("[::1]") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert not is_loopback("example.org")
