"""Request dependencies: who is calling (token or session), may they, and which version."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from jobgraph.auth.access import Access, Principal
from jobgraph.auth.errors import NotAuthenticated, VersionRequired
from jobgraph.auth.roles import Action
from jobgraph.errors import UserError
from jobgraph.service import Workspace

SESSION_COOKIE = "jobgraph_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `jobgraph tokens create` or POST /api/v1/tokens.",
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Set by POST /api/v1/auth/login; changes also need the X-CSRF-Token header.",
)


# The dependencies below are ``async`` because they do not block (or hand blocking work to the
# thread pool themselves): FastAPI runs sync dependencies in its thread pool, one hop each.


async def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


async def access(request: Request) -> Access:
    acc: Access = request.app.state.access
    return acc


WorkspaceDep = Annotated[Workspace, Depends(workspace)]
AccessDep = Annotated[Access, Depends(access)]


async def principal(
    request: Request,
    acc: AccessDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The caller: an API token wins over a session cookie; cookies need CSRF on changes.
    Both are checked with one indexed read, here in the event loop (cheaper than a thread
    hop); recording a token's use, a write, goes to the thread pool."""
    if credentials is not None:
        who, stale = acc.verify_token(credentials.credentials)
        if stale:
            await run_in_threadpool(acc.touch_token, who)
        return who
    if session:
        who = acc.authenticate_session(session)
        if request.method not in SAFE_METHODS:
            acc.check_csrf(who, request.headers.get(CSRF_HEADER))
        return who
    raise NotAuthenticated()


PrincipalDep = Annotated[Principal, Depends(principal)]


def allowed(action: Action) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets the request through only if the caller may take ``action``."""

    async def check(who: PrincipalDep) -> Principal:
        Access.require(who, action)
        return who

    check.__name__ = f"may_{action.value}"
    return check


Reader = Annotated[Principal, Depends(allowed(Action.READ))]
Creator = Annotated[Principal, Depends(allowed(Action.CREATE))]
Editor = Annotated[Principal, Depends(allowed(Action.EDIT))]
Submitter = Annotated[Principal, Depends(allowed(Action.SUBMIT))]
Approver = Annotated[Principal, Depends(allowed(Action.APPROVE))]
Rejecter = Annotated[Principal, Depends(allowed(Action.REJECT))]
Retirer = Annotated[Principal, Depends(allowed(Action.RETIRE))]
Merger = Annotated[Principal, Depends(allowed(Action.MERGE))]
TokenKeeper = Annotated[Principal, Depends(allowed(Action.MANAGE_OWN_TOKENS))]
Admin = Annotated[Principal, Depends(allowed(Action.MANAGE_USERS))]

# an entity tag as sent back in If-Match: "3", W/"3" or 3
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,9})"?\s*')


def etag(version: int) -> str:
    return f'"{version}"'


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='The ETag you read, e.g. "3": a write to a newer version is refused '
            "with 412."
        ),
    ] = None,
) -> int:
    if if_match is None or not if_match.strip():
        raise VersionRequired(
            'send If-Match with the ETag of the version you read (e.g. If-Match: "3"); '
            "GET the entity to learn it"
        )
    m = _ETAG.fullmatch(if_match)
    if m is None:
        raise UserError(
            f"If-Match {if_match[:40]!r} is not a version: send the ETag of the entity, "
            'e.g. "3" (one version, no wildcard)'
        )
    return int(m.group(1))


VersionDep = Annotated[int, Depends(expected_version)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def reject_nul(request: Request) -> None:
    """Refuse NUL characters anywhere in the input: PostgreSQL cannot store them, and no
    entity, name or search needs one."""
    if "\x00" in request.url.path or "%00" in request.url.query:
        raise UserError("the address contains a NUL character (%00); remove it")
    if request.method in SAFE_METHODS:
        return
    body = await request.body()
    # cheap test first: JSON writes NUL as \\u0000
    if b"\\u0000" in body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return  # FastAPI reports malformed JSON itself
        if _has_nul(parsed):
            raise UserError("the request body contains a NUL character (\\u0000); remove it")
