"""Authentication and authorisation: users with roles, API tokens, sessions, rate-limited
sign-in, and the workspace view whose governance rules read roles. No web framework here."""

from jobgraph.auth.access import (
    Access,
    AuditEntry,
    LoginPolicy,
    NewSession,
    NewToken,
    Principal,
    Token,
    User,
)
from jobgraph.auth.errors import NotAuthenticated, RoleRefused, TooManyAttempts, VersionRequired
from jobgraph.auth.governed import GovernedWorkspace
from jobgraph.auth.roles import Action, Role, Scope, allows, minimum_role
from jobgraph.auth.secrets import Passwords

__all__ = [
    "Access",
    "Action",
    "AuditEntry",
    "GovernedWorkspace",
    "LoginPolicy",
    "NewSession",
    "NewToken",
    "NotAuthenticated",
    "Passwords",
    "Principal",
    "Role",
    "RoleRefused",
    "Scope",
    "Token",
    "TooManyAttempts",
    "User",
    "VersionRequired",
    "allows",
    "minimum_role",
]
