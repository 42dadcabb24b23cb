"""Errors of the access layer, in the ``jobgraph.errors`` tree under ``UserError``::

UserError
├── NotAuthenticated     no valid credentials: sign in, or send an API token
├── TooManyAttempts      sign-in refused for a while after repeated failures
├── VersionRequired      a write did not name the version it read (If-Match)
└── PermissionDenied
    └── RoleRefused      the user's role (or the token's scope) does not allow the action
"""

from __future__ import annotations

from jobgraph.errors import PermissionDenied, UserError


class NotAuthenticated(UserError):
    """Sign in first, or send an API token as `Authorization: Bearer TOKEN`."""


class TooManyAttempts(UserError):
    """Too many failed sign-ins; wait before trying again."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(
            f"too many failed sign-ins; try again in {self.retry_after} seconds, or ask an "
            "admin to check the account"
        )


class VersionRequired(UserError):
    """Name the version you read: send `If-Match: "N"` with the entity's ETag."""


class RoleRefused(PermissionDenied):
    """Your role does not allow that."""
