"""The access layer without HTTP: users, passwords, tokens, sessions, rate limits, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.api.conftest import FAST, PASSWORD, job

from jobgraph.auth import (
    Access,
    Action,
    GovernedWorkspace,
    NotAuthenticated,
    Role,
    RoleRefused,
    Scope,
    TooManyAttempts,
    allows,
)
from jobgraph.errors import DuplicateId, PermissionDenied, UserError
from jobgraph.service import Workspace
from jobgraph.store.tables import TokenRow, UserRow


@pytest.fixture
def access(ws: Workspace) -> Access:
    return Access(ws, passwords=FAST)


def test_passwords_are_stored_as_argon2id_hashes(access: Access, ws: Workspace) -> None:
    access.add_user("dana", Role.CONTRIBUTOR, password=PASSWORD, actor="alice")
    with ws.kb.engine.connect() as conn:
        stored = conn.execute(select(UserRow.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert access.login("dana", PASSWORD).principal.name == "dana"


def test_a_wrong_password_or_unknown_name_is_refused_alike(access: Access) -> None:
    access.add_user("dana", Role.VIEWER, password=PASSWORD, actor="alice")
    for name, password in [("dana", "wrong password!"), ("nobody", PASSWORD)]:
        with pytest.raises(NotAuthenticated, match="wrong user name or password"):
            access.login(name, password)


def test_weak_passwords_bad_names_and_duplicates_are_refused(access: Access) -> None:
    with pytest.raises(UserError, match="at least 10 characters"):
        access.add_user("dana", Role.VIEWER, password="short", actor="alice")
    with pytest.raises(UserError, match="not a usable user name"):
        access.add_user("<script>", Role.VIEWER, actor="alice")
    with pytest.raises(UserError, match="unknown role"):
        access.add_user("dana", "superuser", actor="alice")
    access.add_user("dana", Role.VIEWER, actor="alice")
    with pytest.raises(DuplicateId):
        access.add_user("dana", Role.ADMIN, actor="alice")


def test_sign_in_is_refused_for_a_while_after_five_failures(access: Access, ws: Workspace) -> None:
    access.add_user("dana", Role.VIEWER, password=PASSWORD, actor="alice")
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            access.login("dana", "not the password", client="10.0.0.9")
    with pytest.raises(TooManyAttempts) as refused:
        access.login("dana", PASSWORD, client="10.0.0.9")
    assert 0 < refused.value.retry_after <= 15 * 60
    later = ws.clock() + timedelta(minutes=16)
    ws.clock = lambda: later
    assert access.login("dana", PASSWORD).principal.name == "dana"


def test_one_client_guessing_many_names_is_refused(access: Access) -> None:
    for i in range(20):
        with pytest.raises(NotAuthenticated):
            access.login(f"user{i}", "guess guess guess", client="10.0.0.7")
    with pytest.raises(TooManyAttempts):
        access.login("someone", "guess guess guess", client="10.0.0.7")


def test_a_token_is_shown_once_and_stored_as_its_sha256(access: Access, ws: Workspace) -> None:
    access.add_user("dana", Role.CONTRIBUTOR, actor="alice")
    new = access.create_token("dana", name="crm sync", scope="write", actor="alice")
    assert new.secret.startswith("jg_") and len(new.secret) > 40
    with ws.kb.engine.connect() as conn:
        row = conn.execute(select(TokenRow)).one()
    assert new.secret not in (row.secret_hash, row.prefix) and len(row.secret_hash) == 64
    who = access.authenticate_token(new.secret)
    assert (who.name, who.scope, who.via) == ("dana", Scope.WRITE, "token")
    assert access.token(new.token.id).last_used_at is not None
    access.revoke_token(new.token.id, actor="alice")
    with pytest.raises(NotAuthenticated, match="revoked"):
        access.authenticate_token(new.secret)
    with pytest.raises(NotAuthenticated):
        access.authenticate_token("jg_made-up")


def test_expired_tokens_and_disabled_users_no_longer_authenticate(
    access: Access, ws: Workspace
) -> None:
    access.add_user("dana", Role.VIEWER, password=PASSWORD, actor="alice")
    short = access.create_token("dana", name="short", actor="alice", expires_in=timedelta(days=1))
    lasting = access.create_token("dana", name="lasting", actor="alice")
    session = access.login("dana", PASSWORD)
    later = ws.clock() + timedelta(days=2)
    ws.clock = lambda: later
    with pytest.raises(NotAuthenticated, match="expired"):
        access.authenticate_token(short.secret)
    assert access.authenticate_token(lasting.secret).name == "dana"
    access.set_active("dana", False, actor="alice")
    with pytest.raises(NotAuthenticated):
        access.authenticate_token(lasting.secret)
    with pytest.raises(NotAuthenticated):
        access.authenticate_session(session.secret)
    with pytest.raises(NotAuthenticated):
        access.login("dana", PASSWORD)


def test_sessions_end_at_logout_and_check_csrf(access: Access) -> None:
    access.add_user("dana", Role.VIEWER, password=PASSWORD, actor="alice")
    session = access.login("dana", PASSWORD)
    who = access.authenticate_session(session.secret)
    Access.check_csrf(who, session.csrf_token)
    with pytest.raises(RoleRefused, match="CSRF"):
        Access.check_csrf(who, "forged")
    with pytest.raises(RoleRefused, match="CSRF"):
        Access.check_csrf(who, None)
    access.logout(session.secret)
    with pytest.raises(NotAuthenticated):
        access.authenticate_session(session.secret)


def test_roles_are_ordered_and_read_tokens_only_read() -> None:
    assert allows(Role.VIEWER, Action.READ)
    assert not allows(Role.VIEWER, Action.CREATE)
    assert allows(Role.CONTRIBUTOR, Action.SUBMIT)
    assert not allows(Role.CONTRIBUTOR, Action.APPROVE)
    assert allows(Role.OWNER, Action.RETIRE)
    assert not allows(Role.COUNCIL, Action.MANAGE_USERS)
    assert allows(Role.ADMIN, Action.MANAGE_USERS)
    assert not allows(Role.ADMIN, Action.EDIT, Scope.READ)
    assert allows(Role.ADMIN, Action.READ, Scope.READ)


def test_every_access_change_is_in_the_audit_log(access: Access) -> None:
    access.add_user("dana", Role.VIEWER, password=PASSWORD, actor="alice")
    access.set_role("dana", Role.OWNER, actor="alice")
    token = access.create_token("dana", name="t", actor="dana")
    access.revoke_token(token.token.id, actor="alice")
    with pytest.raises(NotAuthenticated):
        access.login("dana", "wrong password")
    log = [(e.actor, e.action, e.target) for e in reversed(access.audit())]
    assert log == [
        ("alice", "user.add", "dana"),
        ("alice", "user.role", "dana"),
        ("dana", "token.create", "dana"),
        ("alice", "token.revoke", "dana"),
        ("dana", "login.failed", "dana"),
    ]


def test_the_last_admin_cannot_be_removed(access: Access) -> None:
    access.add_user("ada", Role.ADMIN, actor="alice")
    with pytest.raises(UserError, match="last active admin"):
        access.set_role("ada", Role.VIEWER, actor="ada")
    with pytest.raises(UserError, match="last active admin"):
        access.set_active("ada", False, actor="ada")
    access.add_user("ben", Role.ADMIN, actor="ada")
    assert access.set_role("ada", Role.VIEWER, actor="ben").role is Role.VIEWER


def test_governance_reads_roles_not_the_config_council(access: Access, ws: Workspace) -> None:
    gov = GovernedWorkspace(ws, access)
    for name, role in [("olive", Role.OWNER), ("cora", Role.CONTRIBUTOR), ("cami", Role.COUNCIL)]:
        access.add_user(name, role, actor="alice")
    mine = ws.create(job("mine"), author="alice")
    theirs = ws.create(job("theirs", owner="bob"), author="alice")
    cora_owns = ws.create(job("cora-owns", owner="cora"), author="alice")
    # alice is council in jobgraph.toml but not a user: no power behind the API
    with pytest.raises(PermissionDenied):
        gov.approve(mine.id, expected_version=1, author="alice")
    assert (
        gov.approve(mine.id, expected_version=1, author="olive").entity.status.value == "approved"
    )
    with pytest.raises(PermissionDenied):
        gov.approve(theirs.id, expected_version=1, author="olive")
    # owning an entity is not enough without the owner role
    with pytest.raises(PermissionDenied):
        gov.approve(cora_owns.id, expected_version=1, author="cora")
    assert gov.approve(theirs.id, expected_version=1, author="cami").version == 2
