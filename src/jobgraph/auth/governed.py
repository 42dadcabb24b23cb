"""The workspace as signed-in users see it: the governance rules read roles, not the config.

On the command line and in Python the council is the list of names in ``jobgraph.toml`` and
the names are trusted. Behind the web app and the API every name is an authenticated user, so
the council is the users with the role ``council`` or ``admin``, and an entity's owner governs
it only while their role is ``owner`` or above.
"""

from __future__ import annotations

from jobgraph.auth.access import Access
from jobgraph.auth.roles import Role, governs_everything
from jobgraph.domain.entities import Entity
from jobgraph.service import Workspace


class GovernedWorkspace(Workspace):
    """A view of ``base`` (same database, config and clock) whose council comes from roles."""

    def __init__(self, base: Workspace, access: Access) -> None:
        super().__init__(base.root, base.config, base.kb, settings=base.settings, clock=base.clock)
        self.access = access

    def is_council(self, actor: str) -> bool:
        role = self.access.role_of(actor)
        return role is not None and governs_everything(role)

    def _may_govern(self, actor: str, entity: Entity) -> bool:
        role = self.access.role_of(actor)
        if role is None or role.rank < Role.OWNER.rank:
            return False
        return governs_everything(role) or (entity.owner is not None and actor == entity.owner)

    def close(self) -> None:
        """The base workspace owns the database connection; close that one."""
