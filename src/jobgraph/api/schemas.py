"""API schemas, named by role: ``EntityPublic`` is what the API returns, ``EntityCreate`` and
``EntityUpdate`` what it accepts; lists are ``{data, count}``. The entity fields themselves
are validated by the domain model (one source of truth), so ``data`` and ``changes`` are open
objects here and their problems come back as ``invalid_entity`` errors with every detail."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from jobgraph.auth.access import Token, User
from jobgraph.auth.roles import Role, Scope
from jobgraph.domain.diff import FieldChange
from jobgraph.domain.entities import to_data
from jobgraph.domain.findings import Finding
from jobgraph.domain.ids import Kind
from jobgraph.store.repository import Record, Revision
from jobgraph.webhooks import Delivery, Webhook

T = TypeVar("T")

Reason = Field(default="", max_length=2000, description="Why, recorded in the history.")


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListOf(Schema, Generic[T]):
    data: list[T]
    count: int = Field(description="How many match in all (not only on this page).")


class Paged(ListOf[T], Generic[T]):
    limit: int
    offset: int


class EntityPublic(Schema):
    id: str
    kind: str
    version: int = Field(description="Send it back as If-Match to update (also the ETag).")
    status: str
    title: str
    owner: str | None
    data: dict[str, Any] = Field(description="Every field of the entity (see docs/files.md).")
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, record: Record) -> EntityPublic:
        # built from a validated entity, so not validated again (the hot read paths)
        e = record.entity
        return cls.model_construct(
            id=e.id,
            kind=e.kind.value,
            version=record.version,
            status=e.status.value,
            title=e.title,
            owner=e.owner,
            data=to_data(e),
            created_at=record.created_at,
            created_by=record.created_by,
            updated_at=record.updated_at,
            updated_by=record.updated_by,
        )


class EntityCreate(Schema):
    data: dict[str, Any] = Field(
        description="The entity's fields: an `id` (job.pay-a-bill) or a `kind` and `title`, "
        "plus the fields of that kind.",
        examples=[{"kind": "job", "title": "Pay a bill", "statement": "When ..., I want to ..."}],
    )
    reason: str = Reason


class EntityUpdate(Schema):
    changes: dict[str, Any] = Field(
        description="Fields to set; a field set to null is removed. The id never changes."
    )
    reason: str = Reason


class StatusChange(Schema):
    reason: str = Reason


class Rejection(Schema):
    reason: str = Field(min_length=1, max_length=2000, description="What the author should fix.")


class Retirement(Schema):
    reason: str = Reason
    successor: str | None = Field(default=None, max_length=80, description="Id that replaces it.")


class Merge(Schema):
    into: str = Field(max_length=80, description="Id of the entity it is merged into.")
    reason: str = Reason


class RevisionPublic(Schema):
    entity_id: str
    version: int
    action: str
    author: str
    at: datetime
    reason: str
    snapshot: dict[str, Any]

    @classmethod
    def of(cls, r: Revision) -> RevisionPublic:
        return cls(
            entity_id=r.entity_id,
            version=r.version,
            action=r.action,
            author=r.author,
            at=r.at,
            reason=r.reason,
            snapshot=r.snapshot,
        )


class ChangePublic(Schema):
    path: str
    change: str
    old: Any = None
    new: Any = None

    @classmethod
    def of(cls, c: FieldChange) -> ChangePublic:
        return cls(path=c.path, change=c.kind, old=c.old, new=c.new)


class Link(Schema):
    id: str
    field: str


class LinksPublic(Schema):
    id: str
    outgoing: list[Link] = Field(description="What this entity refers to.")
    incoming: list[Link] = Field(description="What refers to this entity.")


class FindingPublic(Schema):
    level: str
    code: str
    message: str
    entity_id: str | None = None
    field: str | None = None
    path: str | None = None
    line: int | None = None

    @classmethod
    def of(cls, f: Finding) -> FindingPublic:
        return cls.model_validate(f.as_dict())


class ErrorDetail(Schema):
    status: int
    code: str = Field(description="Stable, machine-readable: not_found, stale_version, ...")
    message: str = Field(description="What went wrong and what to do.")
    details: dict[str, Any]


class ErrorBody(Schema):
    error: ErrorDetail


class Health(Schema):
    status: str
    version: str


# access


class LoginRequest(Schema):
    name: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class UserPublic(Schema):
    name: str
    role: Role
    active: bool
    has_password: bool
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, u: User) -> UserPublic:
        return cls(
            name=u.name,
            role=u.role,
            active=u.active,
            has_password=u.has_password,
            created_at=u.created_at,
            created_by=u.created_by,
        )


class Me(Schema):
    user: UserPublic
    via: str = Field(description="token or session")
    scope: Scope
    csrf_token: str | None = Field(
        default=None, description="With a session: send it as X-CSRF-Token on every change."
    )


class UserCreate(Schema):
    name: str = Field(max_length=200)
    role: Role = Role.VIEWER
    password: str | None = Field(default=None, max_length=1024)


class UserUpdate(Schema):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, max_length=1024)


class TokenCreate(Schema):
    name: str = Field(min_length=1, max_length=200, description="What uses it, e.g. 'crm-sync'.")
    scope: Scope = Scope.READ
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    user: str | None = Field(
        default=None, max_length=200, description="Admins only: create it for this user."
    )


class TokenPublic(Schema):
    id: int
    user: str
    name: str
    prefix: str = Field(description="The first characters of the secret, to recognise it.")
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: Token) -> TokenPublic:
        return cls(
            id=t.id,
            user=t.user,
            name=t.name,
            prefix=t.prefix,
            scope=t.scope,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


class AuditPublic(Schema):
    at: datetime
    actor: str
    action: str = Field(description="user.add, user.role, token.create, login.failed, ...")
    target: str
    detail: str


class TokenCreated(TokenPublic):
    secret: str = Field(description="Shown this once: store it now. Send as Bearer token.")


# webhooks


class WebhookCreate(Schema):
    url: str = Field(min_length=8, max_length=2000, description="http(s) address to POST to.")
    kinds: list[Kind] = Field(default_factory=list, description="Only these kinds; all if empty.")


class WebhookUpdate(Schema):
    active: bool


class WebhookPublic(Schema):
    id: int
    url: str
    kinds: list[str]
    active: bool
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, w: Webhook) -> WebhookPublic:
        return cls(
            id=w.id,
            url=w.url,
            kinds=list(w.kinds),
            active=w.active,
            created_at=w.created_at,
            created_by=w.created_by,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="Signing secret for X-Jobgraph-Signature; shown this once.")


class DeliveryPublic(Schema):
    id: int
    webhook_id: int
    event: str
    entity_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryPublic:
        return cls(
            id=d.id,
            webhook_id=d.webhook_id,
            event=d.event,
            entity_id=d.entity_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
