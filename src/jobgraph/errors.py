"""Errors raised by jobgraph.

Every error is a ``JobgraphError``. The tree::

    JobgraphError
    ├── UserError                 something the user can fix; the message says what and where
    │   ├── WorkspaceNotFound     no workspace at or above the given folder
    │   ├── WorkspaceExists       init into a folder that already holds a workspace
    │   ├── EntityNotFound        no entity with that id
    │   ├── DuplicateId           an id is already taken (ids are never reused)
    │   ├── StaleVersion          an update named a version that is no longer current
    │   ├── InvalidEntity         an entity's fields are wrong (type, unknown field, bad value)
    │   ├── InvalidTransition     a status change the governance rules do not allow
    │   ├── PermissionDenied      the actor may not do this (approval needs owner or council)
    │   ├── ValidationFailed      the linter found errors; carries every finding
    │   └── ImportFailed          a file import was refused; carries every finding, nothing written
    └── InternalError             a bug or an environment fault; report it

The CLI prints ``str(error)`` and exits non-zero; the traceback is shown only with ``--verbose``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobgraph.domain.findings import Finding


class JobgraphError(Exception):
    """Something went wrong in jobgraph."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())


class UserError(JobgraphError):
    """The request cannot be carried out as given."""


class InternalError(JobgraphError):
    """jobgraph hit an internal fault; please report it with the output of --verbose."""


class WorkspaceNotFound(UserError):
    """No jobgraph workspace here: run `jobgraph init DIR` or pass --workspace DIR."""


class WorkspaceExists(UserError):
    """A workspace already exists in that folder."""


class EntityNotFound(UserError):
    """No entity with that id."""


class DuplicateId(UserError):
    """That id is already taken; ids are never reused."""


class StaleVersion(UserError):
    """The entity changed since you read it."""

    def __init__(self, entity_id: str, expected: int, current: int) -> None:
        self.entity_id = entity_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"{entity_id}: you edited version {expected} but the current version is {current}; "
            f"nothing was written. Run `jobgraph show {entity_id}` to read the current version, "
            "reapply your change to it, and save again."
        )


class InvalidEntity(UserError):
    """An entity's fields are not valid."""


class InvalidTransition(UserError):
    """That status change is not allowed."""


class PermissionDenied(UserError):
    """You are not allowed to do that."""


class _FindingsError(UserError):
    headline = "failed"

    def __init__(self, findings: Sequence[Finding], headline: str | None = None) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.level.value == "error"]
        head = headline or self.headline
        lines = [f"{head}: {len(errors)} error(s)"]
        lines += [f"  {f.render()}" for f in errors[:20]]
        if len(errors) > 20:
            lines.append(f"  ... and {len(errors) - 20} more")
        super().__init__("\n".join(lines))


class ValidationFailed(_FindingsError):
    headline = "validation failed"


class ImportFailed(_FindingsError):
    headline = "import refused, nothing was written"
