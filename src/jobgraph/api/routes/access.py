"""/api/v1/auth, /api/v1/tokens, /api/v1/users: signing in, API tokens, user management."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from jobgraph.api.deps import (
    SESSION_COOKIE,
    AccessDep,
    Admin,
    PrincipalDep,
    TokenKeeper,
)
from jobgraph.api.schemas import (
    AuditPublic,
    ListOf,
    LoginRequest,
    Me,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from jobgraph.auth.access import Principal
from jobgraph.auth.errors import RoleRefused
from jobgraph.auth.roles import Action

router = APIRouter(prefix="/api/v1", tags=["access"])


def _me(who: Principal) -> Me:
    return Me(user=UserPublic.of(who.user), via=who.via, scope=who.scope, csrf_token=who.csrf_token)


@router.post("/auth/login", response_model=Me, summary="Sign in with a password")
def login(body: LoginRequest, acc: AccessDep, request: Request, response: Response) -> Any:
    """Opens a session (an HttpOnly cookie). Changes made with it need the returned
    ``csrf_token`` in the X-CSRF-Token header. Repeated failures are refused for a while (429).
    """
    client = request.client.host if request.client else "unknown"
    session = acc.login(body.name, body.password, client=client)
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=int(acc.policy.session_lifetime.total_seconds()),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return _me(session.principal)


@router.post("/auth/logout", status_code=204, summary="End the session")
def logout(request: Request, acc: AccessDep, who: PrincipalDep) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if who.via == "session" and secret:
        acc.logout(secret)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me, summary="Who am I")
def me(who: PrincipalDep) -> Any:
    return _me(who)


@router.get("/tokens", response_model=ListOf[TokenPublic], summary="List API tokens")
def list_tokens(acc: AccessDep, who: TokenKeeper) -> Any:
    """Your tokens; an admin sees everyone's."""
    owner = None if who.may(Action.MANAGE_USERS) else who.name
    tokens = acc.tokens(owner)
    return {"data": [TokenPublic.of(t) for t in tokens], "count": len(tokens)}


@router.post("/tokens", status_code=201, response_model=TokenCreated, summary="Create an API token")
def create_token(body: TokenCreate, acc: AccessDep, who: TokenKeeper) -> Any:
    """The secret is in this response only; it is stored as a hash."""
    user = body.user or who.name
    if user != who.name and not who.may(Action.MANAGE_USERS):
        raise RoleRefused("only an admin creates tokens for someone else")
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    new = acc.create_token(
        user, name=body.name, scope=body.scope, actor=who.name, expires_in=expires
    )
    return TokenCreated(**TokenPublic.of(new.token).model_dump(), secret=new.secret)


@router.delete("/tokens/{token_id}", response_model=TokenPublic, summary="Revoke a token")
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2_000_000_000)], acc: AccessDep, who: TokenKeeper
) -> Any:
    owner = None if who.may(Action.MANAGE_USERS) else who.name
    return TokenPublic.of(acc.revoke_token(token_id, actor=who.name, owner=owner))


@router.get("/users", response_model=ListOf[UserPublic], summary="List users (admin)")
def list_users(acc: AccessDep, who: Admin) -> Any:
    users = acc.users()
    return {"data": [UserPublic.of(u) for u in users], "count": len(users)}


@router.post("/users", status_code=201, response_model=UserPublic, summary="Add a user (admin)")
def add_user(body: UserCreate, acc: AccessDep, who: Admin) -> Any:
    return UserPublic.of(acc.add_user(body.name, body.role, password=body.password, actor=who.name))


@router.patch("/users/{name}", response_model=UserPublic, summary="Change a user (admin)")
def change_user(
    name: Annotated[str, Path(max_length=200)], body: UserUpdate, acc: AccessDep, who: Admin
) -> Any:
    user = acc.user(name)
    if body.role is not None:
        user = acc.set_role(name, body.role, actor=who.name)
    if body.active is not None:
        user = acc.set_active(name, body.active, actor=who.name)
    if body.password is not None:
        user = acc.set_password(name, body.password, actor=who.name)
    return UserPublic.of(user)


@router.get("/audit", response_model=ListOf[AuditPublic], summary="Access audit log (admin)")
def audit_log(acc: AccessDep, who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    """Changes to users and tokens, and sign-ins, newest first. Changes to entities are in
    each entity's history."""
    entries = acc.audit(limit)
    data = [
        AuditPublic(at=e.at, actor=e.actor, action=e.action, target=e.target, detail=e.detail)
        for e in entries
    ]
    return {"data": data, "count": len(data)}
