"""Roles and what each may do. Pure rules, no I/O.

Roles are ordered; each includes everything the one before it may do:

- ``viewer`` reads.
- ``contributor`` also creates and edits drafts and submits them for review.
- ``owner`` also approves, rejects, retires and merges the entities they own (the workspace's
  governance rules check the ownership on every change).
- ``council`` may do so for any entity: they are the co-creation council.
- ``admin`` also manages users, everyone's tokens and the webhooks.

A token's scope narrows its user's role: a ``read`` token only reads.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    OWNER = "owner"
    COUNCIL = "council"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            from jobgraph.errors import UserError

            choices = ", ".join(r.value for r in cls)
            raise UserError(f"unknown role {value!r}; choose one of: {choices}") from None


_RANKS = {role: i for i, role in enumerate(Role)}


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    RETIRE = "retire"
    MERGE = "merge"
    MANAGE_OWN_TOKENS = "manage_own_tokens"
    MANAGE_USERS = "manage_users"
    MANAGE_WEBHOOKS = "manage_webhooks"


def minimum_role(action: Action) -> Role:
    """The lowest role allowed to take ``action``."""
    match action:
        case Action.READ | Action.MANAGE_OWN_TOKENS:
            return Role.VIEWER
        case Action.CREATE | Action.EDIT | Action.SUBMIT:
            return Role.CONTRIBUTOR
        case Action.APPROVE | Action.REJECT | Action.RETIRE | Action.MERGE:
            return Role.OWNER
        case Action.MANAGE_USERS | Action.MANAGE_WEBHOOKS:
            return Role.ADMIN


def is_write(action: Action) -> bool:
    return action is not Action.READ


def allows(role: Role, action: Action, scope: Scope = Scope.WRITE) -> bool:
    """Whether ``role`` (through a credential of ``scope``) may take ``action``."""
    if scope is Scope.READ and is_write(action):
        return False
    return role.rank >= minimum_role(action).rank


def governs_everything(role: Role) -> bool:
    """Council and admin act as the council in the workspace's governance rules."""
    return role.rank >= Role.COUNCIL.rank
