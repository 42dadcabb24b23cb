"""The access layer: users and roles, API tokens, sessions, sign-in rate limiting, audit.

No web framework here: the REST API, the web app and the CLI all call :class:`Access`. It
shares the workspace's database (tables ``users``, ``api_tokens``, ``sessions``,
``login_attempts``, ``audit_log``) and its clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jobgraph.auth.errors import NotAuthenticated, RoleRefused, TooManyAttempts
from jobgraph.auth.roles import Action, Role, Scope, allows, minimum_role
from jobgraph.auth.secrets import TOKEN_PREFIX, Passwords, digest, new_secret, same
from jobgraph.errors import DuplicateId, UserError
from jobgraph.service import Workspace
from jobgraph.store.repository import write_transaction
from jobgraph.store.tables import AuditRow, LoginAttemptRow, SessionRow, TokenRow, UserRow

# a user name, which is also the author recorded in history: "alice", "cx-research-lead",
# "a.lee@example.org"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How many failed sign-ins are tolerated within ``window`` before refusing for a while."""

    window: timedelta = timedelta(minutes=15)
    max_failures_per_name: int = 5
    max_failures_per_client: int = 20
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    active: bool
    has_password: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    user: str
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created; ``secret`` is shown once and never stored."""

    token: Token
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, how, and with which scope."""

    user: User
    via: Literal["token", "session"]
    scope: Scope = Scope.WRITE
    csrf_token: str | None = None
    token_id: int | None = None

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> Role:
        return self.user.role

    def may(self, action: Action) -> bool:
        return allows(self.user.role, action, self.scope)


@dataclass(frozen=True, slots=True)
class NewSession:
    secret: str
    csrf_token: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        active=bool(row.active),
        has_password=row.password_hash is not None,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _user_of(values: list[Any]) -> User:
    """A user from the values of ``_USER_COLUMNS``, in that order."""
    user_id, name, role, active, password_hash, created_at, created_by = values
    return User(
        id=user_id,
        name=name,
        role=Role(role),
        active=bool(active),
        has_password=password_hash is not None,
        created_at=created_at,
        created_by=created_by,
    )


_USER_COLUMNS = [
    UserRow.id,
    UserRow.name,
    UserRow.role,
    UserRow.active,
    UserRow.password_hash,
    UserRow.created_at,
    UserRow.created_by,
]


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise UserError(
            f"{name!r} is not a usable user name: use letters, digits and . _ @ - (at most "
            "200), starting with a letter or digit; it is the name recorded in history"
        )
    return name


class Access:
    """Users, tokens, sessions and the rules of who may do what, for one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        passwords: Passwords | None = None,
        policy: LoginPolicy | None = None,
        token_cache_seconds: float = 0.0,
    ) -> None:
        self.workspace = workspace
        self.engine = workspace.kb.engine
        self.passwords = passwords or Passwords()
        self.policy = policy or LoginPolicy()
        # Kept for callers of earlier versions: tokens are no longer cached. Each call checks
        # its token with one indexed read (tens of microseconds), so a revocation, a disabled
        # user or a role change takes effect on the very next request in every process.
        self.token_cache_seconds = token_cache_seconds
        lookup = workspace.kb.lookup
        self._lookup = lookup
        self._token_check = lookup.prepare(self.token_query())
        self._session_check = lookup.prepare(
            select(SessionRow.csrf_token, SessionRow.expires_at, *_USER_COLUMNS)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.id_hash == bindparam("key"))
        )

    def now(self) -> datetime:
        return self.workspace.clock()

    def _audit(self, conn: Connection, actor: str, action: str, target: str, detail: str) -> None:
        conn.execute(
            insert(AuditRow).values(
                at=self.now(), actor=actor, action=action, target=target, detail=detail
            )
        )

    # users

    def has_users(self) -> bool:
        """Whether authentication is configured: at least one active user exists."""
        with self.engine.connect() as conn:
            return (
                conn.execute(select(func.count()).where(UserRow.active.is_(True))).scalar_one() > 0
            )

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(UserRow.name)).all()
        return [_user(r) for r in rows]

    def find_user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(UserRow.name == name)).one_or_none()
        return _user(row) if row else None

    def user(self, name: str) -> User:
        found = self.find_user(name)
        if found is None:
            raise UserError(f"no user {name!r}; `jobgraph users list` shows who exists")
        return found

    def role_of(self, name: str) -> Role | None:
        """The role of an active user, or None."""
        found = self.find_user(name)
        return found.role if found and found.active else None

    def add_user(
        self, name: str, role: Role | str, *, password: str | None = None, actor: str
    ) -> User:
        """Add a user. Without a password the user can only use API tokens."""
        check_name(name)
        role = Role.parse(role) if isinstance(role, str) else role
        hashed = self.passwords.hash(password) if password is not None else None
        now = self.now()
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(UserRow).values(
                        name=name,
                        role=role.value,
                        password_hash=hashed,
                        active=True,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                )
                self._audit(conn, actor, "user.add", name, f"role {role.value}")
        except IntegrityError as exc:
            raise DuplicateId(
                f"a user {name!r} already exists; change it with `jobgraph users set-role`"
            ) from exc
        return self.user(name)

    def _change_user(self, name: str, actor: str, action: str, detail: str, **values: Any) -> User:
        target = self.user(name)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(UserRow)
                .where(UserRow.id == target.id)
                .values(updated_at=self.now(), **values)
            )
            if values.get("active") is False or "password_hash" in values:
                conn.execute(delete(SessionRow).where(SessionRow.user_id == target.id))
            self._audit(conn, actor, action, name, detail)
        return self.user(name)

    def _keep_an_admin(self, user: User) -> None:
        if user.role is not Role.ADMIN or not user.active:
            return
        with self.engine.connect() as conn:
            admins = conn.execute(
                select(func.count()).where(
                    UserRow.role == Role.ADMIN.value, UserRow.active.is_(True)
                )
            ).scalar_one()
        if admins <= 1:
            raise UserError(
                f"{user.name} is the last active admin; make someone else admin first, so "
                "users and tokens can still be managed"
            )

    def set_role(self, name: str, role: Role | str, *, actor: str) -> User:
        role = Role.parse(role) if isinstance(role, str) else role
        before = self.user(name).role
        if role is not Role.ADMIN:
            self._keep_an_admin(self.user(name))
        return self._change_user(
            name, actor, "user.role", f"{before.value} -> {role.value}", role=role.value
        )

    def set_active(self, name: str, active: bool, *, actor: str) -> User:
        """Disable (or re-enable) a user: a disabled user's sessions end and tokens stop
        working; history keeps their name."""
        if not active:
            self._keep_an_admin(self.user(name))
        return self._change_user(
            name,
            actor,
            "user.enable" if active else "user.disable",
            "enabled" if active else "disabled",
            active=active,
        )

    def set_password(self, name: str, password: str, *, actor: str) -> User:
        return self._change_user(
            name,
            actor,
            "user.password",
            "password changed",
            password_hash=self.passwords.hash(password),
        )

    # tokens

    def create_token(
        self,
        user: str,
        *,
        name: str,
        scope: Scope | str = Scope.READ,
        actor: str,
        expires_in: timedelta | None = None,
    ) -> NewToken:
        """A new API token for ``user``; the returned secret is the only copy."""
        owner = self.user(user)
        if not owner.active:
            raise UserError(f"{user} is disabled; enable the user before giving them a token")
        try:
            scope = Scope(scope)
        except ValueError:
            raise UserError(f"unknown token scope {scope!r}; choose read or write") from None
        label = (name or "").strip()
        if not label or len(label) > 200:
            raise UserError("name the token (1 to 200 characters), e.g. the system that uses it")
        secret = new_secret(TOKEN_PREFIX)
        now = self.now()
        with write_transaction(self.engine) as conn:
            token_id = conn.execute(
                insert(TokenRow)
                .values(
                    user_id=owner.id,
                    name=label,
                    prefix=secret[:10],
                    secret_hash=digest(secret),
                    scope=scope.value,
                    created_at=now,
                    expires_at=now + expires_in if expires_in else None,
                )
                .returning(TokenRow.id)
            ).scalar_one()
            self._audit(conn, actor, "token.create", user, f"token {token_id} {label!r} {scope}")
        return NewToken(self.token(token_id), secret)

    def _token_query(self) -> Any:
        return select(
            TokenRow.id,
            UserRow.name.label("user"),
            TokenRow.name,
            TokenRow.prefix,
            TokenRow.scope,
            TokenRow.created_at,
            TokenRow.expires_at,
            TokenRow.last_used_at,
            TokenRow.revoked_at,
        ).join(UserRow, UserRow.id == TokenRow.user_id)

    @staticmethod
    def _token(row: Any) -> Token:
        return Token(
            id=row.id,
            user=row.user,
            name=row.name,
            prefix=row.prefix,
            scope=Scope(row.scope),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )

    def token(self, token_id: int) -> Token:
        with self.engine.connect() as conn:
            row = conn.execute(self._token_query().where(TokenRow.id == token_id)).one_or_none()
        if row is None:
            raise UserError(f"no token {token_id}; `jobgraph tokens list` shows them")
        return self._token(row)

    def tokens(self, user: str | None = None) -> list[Token]:
        query = self._token_query().order_by(TokenRow.id)
        if user is not None:
            query = query.where(UserRow.name == user)
        with self.engine.connect() as conn:
            return [self._token(r) for r in conn.execute(query)]

    def revoke_token(self, token_id: int, *, actor: str, owner: str | None = None) -> Token:
        """Revoke a token (at once, for good). With ``owner``, only that user's token."""
        token = self.token(token_id)
        if owner is not None and token.user != owner:
            raise UserError(f"no token {token_id} of yours; `GET /api/v1/tokens` lists them")
        if token.revoked_at is None:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    update(TokenRow).where(TokenRow.id == token_id).values(revoked_at=self.now())
                )
                self._audit(conn, actor, "token.revoke", token.user, f"token {token_id}")
        return self.token(token_id)

    def authenticate_token(self, secret: str) -> Principal:
        """The caller behind an API token; refused if unknown, revoked, expired or its user
        is disabled. Checked against the database on every call."""
        principal, stale = self.verify_token(secret)
        if stale:
            self.touch_token(principal)
        return principal

    def verify_token(self, secret: str) -> tuple[Principal, bool]:
        """Like :meth:`authenticate_token` but read-only (safe to call from an event loop):
        also says whether the token's last use is old enough to record with
        :meth:`touch_token`."""
        return self.check_token_row(self._lookup.one(self._token_check, {"key": digest(secret)}))

    @staticmethod
    def token_query() -> Select[*tuple[Any, ...]]:
        """The read behind :meth:`verify_token`: the token whose hash is the bind parameter
        ``key``, with its user. Other reads may add columns and joins to it (one round trip
        instead of two) and pass the token's part of the row to :meth:`check_token_row`."""
        return (
            select(
                TokenRow.id.label("token_id"),
                TokenRow.scope,
                TokenRow.expires_at,
                TokenRow.revoked_at,
                TokenRow.last_used_at,
                *_USER_COLUMNS,
            )
            .join(UserRow, UserRow.id == TokenRow.user_id)
            .where(TokenRow.secret_hash == bindparam("key"))
        )

    def check_token_row(self, row: Sequence[Any] | None) -> tuple[Principal, bool]:
        """The principal from the values of :meth:`token_query` (None: no such token) and
        whether its use should be recorded; raises NotAuthenticated as verify_token does."""
        if row is None:
            raise NotAuthenticated("the API token is unknown or revoked; ask for a new one")
        token_id, scope, expires_at, revoked_at, last_used_at, *user = row
        if revoked_at is not None or not user[3]:
            raise NotAuthenticated("the API token is unknown or revoked; ask for a new one")
        now = self.now()
        if expires_at is not None and expires_at <= now:
            raise NotAuthenticated("the API token has expired; ask for a new one")
        principal = Principal(_user_of(user), "token", Scope(scope), token_id=token_id)
        # last use is recorded to the minute, so reads do not turn into writes
        stale = last_used_at is None or now - last_used_at > timedelta(minutes=1)
        return principal, stale

    def touch_token(self, principal: Principal) -> None:
        """Record that the principal's token was used now."""
        if principal.token_id is None:
            return
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(TokenRow)
                .where(TokenRow.id == principal.token_id)
                .values(last_used_at=self.now())
            )

    # sessions

    def _failures(self, conn: Connection, column: Any, value: str, since: datetime) -> list[Any]:
        last_ok = conn.execute(
            select(func.max(LoginAttemptRow.at)).where(
                column == value, LoginAttemptRow.ok.is_(True)
            )
        ).scalar_one()
        start = max(since, last_ok) if last_ok is not None else since
        return list(
            conn.execute(
                select(LoginAttemptRow.at)
                .where(column == value, LoginAttemptRow.ok.is_(False), LoginAttemptRow.at > start)
                .order_by(LoginAttemptRow.at)
            ).scalars()
        )

    def _check_rate(self, name: str, client: str, now: datetime) -> None:
        since = now - self.policy.window
        with self.engine.connect() as conn:
            for column, value, limit in (
                (LoginAttemptRow.name, name, self.policy.max_failures_per_name),
                (LoginAttemptRow.client, client, self.policy.max_failures_per_client),
            ):
                failures = self._failures(conn, column, value, since)
                if len(failures) >= limit:
                    oldest = failures[-limit]
                    wait = (oldest + self.policy.window - now).total_seconds()
                    raise TooManyAttempts(int(wait) + 1)

    def login(self, name: str, password: str, *, client: str = "unknown") -> NewSession:
        """Check a password and open a session. Refused for a while after repeated failures
        for the same name or from the same client address."""
        name = (name or "")[:200]
        client = (client or "unknown")[:64]
        now = self.now()
        self._check_rate(name, client, now)
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(UserRow.name == name)).one_or_none()
        ok = self.passwords.verify(row.password_hash if row else None, password)
        ok = ok and row is not None and bool(row.active)
        if not ok or row is None:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(LoginAttemptRow).values(name=name, client=client, at=now, ok=False)
                )
                self._audit(conn, name, "login.failed", name, f"from {client}")
            raise NotAuthenticated("wrong user name or password")
        with write_transaction(self.engine) as conn:
            conn.execute(insert(LoginAttemptRow).values(name=name, client=client, at=now, ok=True))
            if self.passwords.needs_rehash(row.password_hash):
                conn.execute(
                    update(UserRow)
                    .where(UserRow.id == row.id)
                    .values(password_hash=self.passwords.hasher.hash(password))
                )
            secret = new_secret()
            csrf = new_secret()
            expires = now + self.policy.session_lifetime
            conn.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            conn.execute(
                insert(SessionRow).values(
                    id_hash=digest(secret),
                    user_id=row.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
            self._audit(conn, name, "login", name, f"from {client}")
        return NewSession(secret, csrf, expires, Principal(_user(row), "session", csrf_token=csrf))

    def authenticate_session(self, secret: str) -> Principal:
        row = self._lookup.one(self._session_check, {"key": digest(secret)})
        if row is None:
            raise NotAuthenticated("your session has ended; sign in again")
        csrf_token, expires_at, *user = row
        if not user[3] or expires_at <= self.now():
            raise NotAuthenticated("your session has ended; sign in again")
        return Principal(_user_of(user), "session", csrf_token=csrf_token)

    def logout(self, secret: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(delete(SessionRow).where(SessionRow.id_hash == digest(secret)))

    @staticmethod
    def check_csrf(principal: Principal, sent: str | None) -> None:
        """Unsafe requests made with a session cookie must echo the session's CSRF token."""
        if principal.via != "session":
            return
        if not sent or not principal.csrf_token or not same(sent, principal.csrf_token):
            raise RoleRefused(
                "missing or wrong CSRF token: send the X-CSRF-Token header (or the csrf_token "
                "form field) you received when you signed in"
            )

    # authorisation and audit

    @staticmethod
    def require(principal: Principal, action: Action) -> None:
        """Refuse unless the principal's role and credential scope allow ``action``."""
        if principal.may(action):
            return
        if principal.scope is Scope.READ and action is not Action.READ:
            raise RoleRefused(
                f"this API token is read-only; {action.value} needs a token with scope write"
            )
        needed = minimum_role(action)
        raise RoleRefused(
            f"{principal.name} is a {principal.role.value}; {action.value} needs the role "
            f"{needed.value} or above (ask an admin)"
        )

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest access events first."""
        query = (
            select(AuditRow.at, AuditRow.actor, AuditRow.action, AuditRow.target, AuditRow.detail)
            .order_by(AuditRow.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [AuditEntry(*r) for r in conn.execute(query)]
