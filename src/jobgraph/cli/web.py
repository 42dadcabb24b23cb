"""`jobgraph serve`, `jobgraph users ...` and `jobgraph tokens ...`: the API server and who may
use it. The command line itself is trusted (it has the database); the server checks everyone."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from jobgraph.auth import Access, Role, Scope
from jobgraph.cli.app import AuthorOpt, JsonOpt, WorkspaceOpt, err, out, state
from jobgraph.config import Settings
from jobgraph.errors import UserError
from jobgraph.service import Workspace

users_app = typer.Typer(
    help="People who may sign in to the web app and API, and their roles.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens: shown once, stored hashed, scoped read or write, revocable.",
    no_args_is_help=True,
)

RoleArg = Annotated[
    str, typer.Argument(help="viewer, contributor, owner, council or admin.", show_default=False)
]


@contextmanager
def _access(workspace: Path | None = None) -> Iterator[Access]:
    ws = Workspace.open(workspace or state.workspace)
    try:
        yield Access(ws)
    finally:
        ws.close()


def _actor(author: str | None) -> str:
    return author or Settings().author()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback needs users.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workspace: WorkspaceOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (one per core serves most).")
    ] = 1,
) -> None:
    """Serve the REST API (and its OpenAPI description at /openapi.json)."""
    root = workspace or state.workspace
    with _access(root) as access:
        folder = access.workspace.root
        configured = access.has_users()
    if not configured and not is_loopback(host):
        raise UserError(
            f"refusing to listen on {host} without authentication: nobody could sign in, and "
            "the server would be reachable from other machines. Add a user first, e.g. "
            "`jobgraph users add NAME --role admin`, or serve on 127.0.0.1"
        )
    if not configured:
        err.print(
            "warning: no users yet, so every API call but /healthz answers 401; add one with "
            "`jobgraph users add NAME --role admin` and give it a token with `jobgraph tokens "
            "create NAME`"
        )
    import uvicorn

    out.print(
        f"Serving {folder} on http://{host}:{port} (web app at /, API at /api/v1, docs at /docs)"
    )
    if workers == 1:
        from jobgraph.api import create_app

        uvicorn.run(create_app(folder), host=host, port=port, log_level="warning")
        return
    os.environ["JOBGRAPH_WORKSPACE"] = str(folder)
    uvicorn.run(
        "jobgraph.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # a worker imports the app before it answers the supervisor's first health check;
        # on a busy small machine that takes longer than uvicorn's 5 s default
        timeout_worker_healthcheck=60,
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name; it is the author recorded in history.")],
    role: Annotated[
        str, typer.Option(help="viewer, contributor, owner, council or admin.")
    ] = Role.CONTRIBUTOR.value,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the user signs in with tokens.")
    ] = False,
    author: AuthorOpt = None,
) -> None:
    """Add a user (asks for a password unless --password-stdin or --no-password)."""
    password = None if no_password else _read_password(password_stdin)
    with _access() as access:
        user = access.add_user(name, role, password=password, actor=_actor(author))
    out.print(f"Added {user.name} ({user.role.value}).", markup=False)


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """List users with their roles."""
    with _access() as access:
        users = access.users()
    if as_json:
        rows = [
            {"name": u.name, "role": u.role.value, "active": u.active, "password": u.has_password}
            for u in users
        ]
        out.print_json(json.dumps({"data": rows, "count": len(rows)}))
        return
    for u in users:
        state_text = "active" if u.active else "disabled"
        out.print(f"{u.name}\t{u.role.value}\t{state_text}", markup=False)
    out.print(f"{len(users)} user(s)")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: RoleArg,
    author: AuthorOpt = None,
) -> None:
    """Change a user's role."""
    with _access() as access:
        user = access.set_role(name, role, actor=_actor(author))
    out.print(f"{user.name} is now {user.role.value}.", markup=False)


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="User name.")], author: AuthorOpt = None
) -> None:
    """Disable a user: sessions end and tokens stop working; history keeps the name."""
    with _access() as access:
        access.set_active(name, False, actor=_actor(author))
    out.print(f"{name} is disabled.", markup=False)


@users_app.command("enable")
def users_enable(
    name: Annotated[str, typer.Argument(help="User name.")], author: AuthorOpt = None
) -> None:
    """Enable a disabled user again."""
    with _access() as access:
        access.set_active(name, True, actor=_actor(author))
    out.print(f"{name} is enabled.", markup=False)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What uses it, e.g. crm-sync.")] = "cli",
    scope: Annotated[str, typer.Option(help="read or write.")] = Scope.READ.value,
    expires_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Expire after this many days.")
    ] = None,
    author: AuthorOpt = None,
) -> None:
    """Create an API token and print it once: it is stored only as a hash."""
    with _access() as access:
        new = access.create_token(
            user,
            name=name,
            scope=scope,
            actor=_actor(author),
            expires_in=timedelta(days=expires_days) if expires_days else None,
        )
    err.print(
        f"Token {new.token.id} for {user} ({new.token.scope.value}). Copy it now; it is not "
        "shown again. Send it as `Authorization: Bearer TOKEN`.",
        markup=False,
    )
    out.print(new.secret, markup=False)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (never their secrets)."""
    with _access() as access:
        tokens = access.tokens(user)
    if as_json:
        rows = [
            {
                "id": t.id,
                "user": t.user,
                "name": t.name,
                "prefix": t.prefix,
                "scope": t.scope.value,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None,
            }
            for t in tokens
        ]
        out.print_json(json.dumps({"data": rows, "count": len(rows)}))
        return
    for t in tokens:
        status = "revoked" if t.revoked_at else f"last used {_when(t.last_used_at)}"
        line = f"{t.id}\t{t.user}\t{t.name}\t{t.prefix}…\t{t.scope.value}\t{status}"
        out.print(line, markup=False)
    out.print(f"{len(tokens)} token(s)")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="From `jobgraph tokens list`.")],
    author: AuthorOpt = None,
) -> None:
    """Revoke a token at once and for good."""
    with _access() as access:
        token = access.revoke_token(token_id, actor=_actor(author))
    out.print(f"Token {token.id} ({token.name}, {token.user}) is revoked.", markup=False)


def register(app: typer.Typer) -> None:
    """Add `serve`, `users` and `tokens` to the `jobgraph` command."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
