"""The use cases of jobgraph, behind one ``Workspace`` object that every front end calls.

>>> ws = Workspace.init("cc", starter="contact-centre")      # doctest: +SKIP
>>> ws.get("job.resolve-billing-anomaly").entity.statement   # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobgraph.config import (
    CONFIG_FILE,
    DATA_DIR,
    Settings,
    WorkspaceConfig,
    WorkspaceSection,
)
from jobgraph.domain.diff import FieldChange, diff_data
from jobgraph.domain.entities import Entity, Status, from_data, references, to_data
from jobgraph.domain.findings import Finding, Level, has_errors, sort_findings
from jobgraph.domain.ids import Kind, kind_of, make_id, parse_id
from jobgraph.domain.lint import lint
from jobgraph.errors import (
    DuplicateId,
    EntityNotFound,
    ImportFailed,
    InvalidEntity,
    InvalidTransition,
    PermissionDenied,
    StaleVersion,
    UserError,
    ValidationFailed,
    WorkspaceExists,
    WorkspaceNotFound,
)
from jobgraph.store.files import write_export
from jobgraph.store.repository import (
    Action,
    Change,
    KnowledgeBase,
    Record,
    Revision,
    ids_like,
)

STARTERS_DIR = Path(__file__).parent / "starters"
STARTERS = {"contact-centre": STARTERS_DIR / "contact_centre"}

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def _invalid(exc: ValidationError, entity_id: str | None) -> InvalidEntity:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "entity"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; check the spelling"
        lines.append(f"{entity_id or 'new entity'}.{where}: {msg}")
    return InvalidEntity("invalid entity:\n  " + "\n  ".join(lines))


def _kind(kind: Kind | str | None) -> Kind | None:
    if kind is None or isinstance(kind, Kind):
        return kind
    try:
        return Kind.parse(kind)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _status(status: Status | str | None) -> str | None:
    if status is None:
        return None
    try:
        return Status(status).value
    except ValueError:
        choices = ", ".join(s.value for s in Status)
        raise UserError(f"unknown status {status!r}; choose one of: {choices}") from None


class Workspace:
    """A jobgraph workspace: a folder with ``jobgraph.toml``, the database and a data folder."""

    def __init__(
        self,
        root: Path,
        config: WorkspaceConfig,
        kb: KnowledgeBase,
        *,
        settings: Settings | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.root = root
        self.config = config
        self.kb = kb
        self.settings = settings or Settings()
        self.clock = clock

    # opening

    @classmethod
    def init(
        cls,
        root: str | Path,
        *,
        starter: str | None = None,
        name: str | None = None,
        author: str | None = None,
        database_url: str | None = None,
        settings: Settings | None = None,
        clock: Clock = utcnow,
    ) -> Workspace:
        """Create a workspace in ``root`` (created if needed), optionally with a starter kit."""
        root = Path(root)
        settings = settings or Settings()
        if (root / CONFIG_FILE).exists():
            raise WorkspaceExists(f"{root} already holds a jobgraph workspace ({CONFIG_FILE})")
        if starter is not None and starter not in STARTERS:
            raise UserError(
                f"unknown starter kit {starter!r}; available: {', '.join(sorted(STARTERS))}"
            )
        author = author or settings.author()
        section = WorkspaceSection(name=name or root.resolve().name)
        if database_url:
            section = WorkspaceSection(name=section.name, database_url=database_url)
        config = WorkspaceConfig(workspace=section)
        config.governance.council.append(author)
        root.mkdir(parents=True, exist_ok=True)
        (root / DATA_DIR).mkdir(exist_ok=True)
        url = settings.database_url or config.database_url_for(root)
        kb = KnowledgeBase(url)
        try:
            kb.migrate()
            if kb.ids():
                raise WorkspaceExists(
                    f"the database {kb.engine.url.render_as_string(hide_password=True)} already "
                    "holds entities; point the new workspace at an empty database"
                )
        except BaseException:
            kb.close()
            raise
        (root / CONFIG_FILE).write_text(config.render(), encoding="utf-8")
        ws = cls(root, config, kb, settings=settings, clock=clock)
        if starter is not None:
            ws.import_folder(
                STARTERS[starter],
                author=author,
                reason=f"starter kit {starter}",
                fill_review_due=True,
            )
        return ws

    @staticmethod
    def find(start: str | Path | None = None) -> Path:
        """The workspace folder at or above ``start`` (default: the current folder)."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return folder
        raise WorkspaceNotFound(
            f"no jobgraph workspace in {here} or any folder above it; run `jobgraph init DIR` "
            "to create one, or pass --workspace DIR"
        )

    @classmethod
    def open(
        cls,
        root: str | Path | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock = utcnow,
    ) -> Workspace:
        """Open an existing workspace; with no ``root``, look from the current folder upwards."""
        settings = settings or Settings()
        if root is None:
            root = settings.workspace
        if root is not None:
            root = Path(root)
            if not (root / CONFIG_FILE).is_file():
                raise WorkspaceNotFound(
                    f"{root} is not a jobgraph workspace (no {CONFIG_FILE}); run "
                    f"`jobgraph init {root}` to create one"
                )
        else:
            root = cls.find()
        config = WorkspaceConfig.read(root / CONFIG_FILE)
        kb = KnowledgeBase(settings.database_url or config.database_url_for(root))
        kb.migrate()
        return cls(root, config, kb, settings=settings, clock=clock)

    def close(self) -> None:
        self.kb.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # helpers

    def today(self) -> date:
        return self.clock().date()

    def actor(self, author: str | None) -> str:
        """The name recorded for a change: the given author, or the configured user."""
        return author or self.settings.author()

    def is_council(self, actor: str) -> bool:
        return actor in self.config.governance.council

    def _may_govern(self, actor: str, entity: Entity) -> bool:
        return self.is_council(actor) or (entity.owner is not None and actor == entity.owner)

    # reads

    def get(self, entity_id: str, *, follow: bool = True) -> Record:
        """The entity with this id; retired or merged ids lead to their successor if ``follow``."""
        record = self.kb.get(entity_id)
        if record is None:
            raise self._not_found(entity_id)
        chain = [entity_id]
        while follow and record.entity.successor and record.entity.status is Status.RETIRED:
            nxt = self.kb.get(record.entity.successor)
            if nxt is None:
                break
            if nxt.id in chain:
                raise UserError(
                    f"the successors of {entity_id} loop ({' -> '.join([*chain, nxt.id])}); "
                    "a council member must retire one of them with a live --successor"
                )
            chain.append(nxt.id)
            record = nxt
        return record

    def resolve(self, entity_id: str) -> str:
        return self.get(entity_id).id

    def _not_found(self, entity_id: str) -> EntityNotFound:
        try:
            parse_id(entity_id)
        except ValueError as exc:
            return EntityNotFound(str(exc))
        close = difflib.get_close_matches(entity_id, sorted(self.kb.ids()), n=3, cutoff=0.6)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; `jobgraph search TEXT` finds entities by their words"
        )
        return EntityNotFound(f"no entity {entity_id}{hint}")

    def list(
        self,
        kind: Kind | str | None = None,
        *,
        status: Status | str | None = None,
        owner: str | None = None,
    ) -> builtins.list[Record]:
        return self.kb.records(_kind(kind), _status(status), owner)

    def entities(self) -> dict[str, Entity]:
        return {r.id: r.entity for r in self.kb.records()}

    def search(
        self, text: str, *, kind: Kind | str | None = None, limit: int = 50
    ) -> builtins.list[Record]:
        return self.kb.search(text, _kind(kind), limit)

    def history(self, entity_id: str) -> builtins.list[Revision]:
        revisions = self.kb.history(entity_id)
        if not revisions:
            raise self._not_found(entity_id)
        return revisions

    def diff(
        self, entity_id: str, from_version: int, to_version: int
    ) -> builtins.list[FieldChange]:
        revisions = {r.version: r for r in self.history(entity_id)}
        for v in (from_version, to_version):
            if v not in revisions:
                raise UserError(
                    f"{entity_id} has no version {v}; it has versions 1 to {max(revisions)}"
                )
        return diff_data(revisions[from_version].snapshot, revisions[to_version].snapshot)

    def links_to(self, entity_id: str) -> builtins.list[tuple[str, str]]:
        return self.kb.links_to(entity_id)

    def validate(self) -> builtins.list[Finding]:
        """Every finding over the whole knowledge base."""
        return sort_findings(lint(self.entities(), today=self.today()))

    def summary(self) -> dict[str, Any]:
        counts = self.kb.count()
        findings = self.validate()
        return {
            "workspace": self.config.workspace.name,
            "root": str(self.root),
            "entities": {k.plural: counts.get(k.value, 0) for k in Kind},
            "errors": sum(f.level is Level.ERROR for f in findings),
            "warnings": sum(f.level is Level.WARNING for f in findings),
        }

    # writes

    def _build(self, data: Entity | Mapping[str, Any]) -> Entity:
        if isinstance(data, Entity):
            return data
        try:
            return from_data(dict(data))
        except ValidationError as exc:
            raise _invalid(exc, data.get("id")) from exc
        except ValueError as exc:
            raise InvalidEntity(str(exc)) from exc

    def _free_id(self, kind: Kind, title: str) -> str:
        base = make_id(kind, title)
        taken = ids_like(self.kb, base)
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def with_defaults(self, entity: Entity) -> Entity:
        if entity.review_due is None and entity.status is not Status.RETIRED:
            due = self.today() + timedelta(days=self.config.governance.review_cadence_days)
            return entity.model_copy(update={"review_due": due})
        return entity

    def check_transition(
        self, before: Entity | None, after: Entity, actor: str, *, demoted: bool = False
    ) -> None:
        """Change control: who may make this change. Decided on the entity as it was, so an
        edit cannot name its author owner and approve itself in one step."""
        if before is None:
            if after.status is Status.APPROVED and not self.is_council(actor):
                raise PermissionDenied(
                    f"{after.id}: only a council member may create an entity as approved; "
                    "create it as a draft and submit it for review"
                )
            if after.status is Status.RETIRED and not self.is_council(actor):
                raise PermissionDenied(
                    f"{after.id}: only a council member may create an entity as retired"
                )
            return
        governs = self._may_govern(actor, before)
        if before.status is Status.RETIRED:
            if after.status is not Status.RETIRED and not self.is_council(actor):
                raise InvalidTransition(
                    f"{after.id} is retired; only a council member may bring it back"
                )
            if not governs and to_data(before) != to_data(after):
                raise PermissionDenied(
                    f"{after.id} is retired; only its owner or a council member may change it"
                )
        if (before.owner or None) != (after.owner or None) and not governs:
            raise PermissionDenied(
                f"{after.id}: only its owner ({before.owner or 'none set'}) or a council member "
                f"may hand it to another owner; {actor} is neither"
            )
        if before.status is after.status:
            return
        if after.status is Status.APPROVED and not governs:
            raise PermissionDenied(
                f"{after.id}: only its owner ({before.owner or 'none set'}) or a council member "
                f"may approve it; {actor} is neither. Submit it for review instead."
            )
        if after.status is Status.RETIRED and not governs:
            raise PermissionDenied(f"{after.id}: only its owner or a council member may retire it")
        if before.status is Status.APPROVED and not governs and not demoted:
            raise PermissionDenied(
                f"{after.id} is approved; only its owner or a council member may change its "
                "status (your edits to its content send it back to review automatically)"
            )

    def _neighbourhood(self, entity: Entity) -> dict[str, Entity]:
        """What the rules need to judge one entity: what it refers to, plus the job stacks
        (for cycles) when it is a stack relation. Keeps a single save independent of the size
        of the knowledge base."""
        view = {
            r.id: r.entity for r in self.kb.get_many(t for _, t, _ in references(entity)).values()
        }
        if entity.kind is Kind.STACK:
            view.update({r.id: r.entity for r in self.kb.records(Kind.STACK)})
        view[entity.id] = entity
        return view

    def _check_lint(self, entity: Entity) -> None:
        view = self._neighbourhood(entity)
        today = self.today()
        findings = lint(view, today=today)
        errors = [f for f in findings if f.entity_id == entity.id and f.level is Level.ERROR]
        if entity.kind is Kind.STACK:
            # a cycle is reported on one of its edges, not always on the relation that closed it
            without = {i: e for i, e in view.items() if i != entity.id}
            before = {f.entity_id for f in lint(without, today=today) if f.code == "stack-cycle"}
            errors += [
                f
                for f in findings
                if f.code == "stack-cycle"
                and f.entity_id != entity.id
                and f.entity_id not in before
            ]
        if errors:
            raise ValidationFailed(errors, headline=f"{entity.id} cannot be saved")

    def create(
        self, data: Entity | Mapping[str, Any], *, author: str | None = None, reason: str = ""
    ) -> Record:
        """Create an entity; without an ``id`` one is made from the kind and title."""
        auto_id = not isinstance(data, Entity) and not data.get("id")
        if not isinstance(data, Entity) and not data.get("id"):
            raw_kind = data.get("kind")
            if not raw_kind:
                raise InvalidEntity("give an `id` (such as job.pay-a-bill) or a `kind` and title")
            kind = Kind.parse(str(raw_kind))
            title = str(data.get("title") or "")
            data = {k: v for k, v in data.items() if k != "kind"}
            data["id"] = self._free_id(kind, title)
        elif not isinstance(data, Entity):
            data = {k: v for k, v in data.items() if k != "kind"}
        entity = self.with_defaults(self._build(data))
        actor = self.actor(author)
        self.check_transition(None, entity, actor)
        self._check_lint(entity)
        try:
            return self.kb.write(
                [Change(entity, None, "create")], actor, reason or "created", self.clock()
            )[0]
        except DuplicateId:
            if not auto_id:
                raise
            # another writer took the generated id between our read and our write
            fresh = entity.model_copy(update={"id": self._free_id(entity.kind, entity.title)})
            return self.kb.write(
                [Change(fresh, None, "create")], actor, reason or "created", self.clock()
            )[0]

    def update(
        self,
        entity_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        author: str | None = None,
        reason: str = "",
        action: Action = "update",
    ) -> Record:
        """Change fields of an entity, naming the version you read (optimistic concurrency).

        The id never changes (renaming is a change of title). If someone else saved a newer
        version, :class:`StaleVersion` is raised and nothing is written.
        """
        if "id" in changes and changes["id"] != entity_id:
            raise InvalidEntity(
                f"{entity_id}: ids are stable and never change; change the title to rename it"
            )
        current = self.kb.get(entity_id)
        if current is None:
            raise self._not_found(entity_id)
        data = to_data(current.entity)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if current.version != expected_version:
            raise StaleVersion(entity_id, expected_version, current.version)
        entity = self._build(data)
        actor = self.actor(author)
        demoted = self.demote_if_needed(current.entity, entity, actor)
        self.check_transition(current.entity, demoted, actor, demoted=demoted is not entity)
        entity = demoted
        self._check_lint(entity)
        return self.kb.write(
            [Change(entity, expected_version, action)], actor, reason or "updated", self.clock()
        )[0]

    def demote_if_needed(self, before: Entity, after: Entity, actor: str) -> Entity:
        """Change control: an approved entity edited by someone who may not approve it goes back
        to review, so the owner or council sees the change before it counts as approved."""
        if (
            before.status is Status.APPROVED
            and after.status is Status.APPROVED
            and to_data(before) != to_data(after)
            and not self._may_govern(actor, before)
        ):
            return after.model_copy(update={"status": Status.IN_REVIEW})
        return after

    def _set_status(
        self,
        entity_id: str,
        status: Status,
        *,
        expected_version: int,
        author: str | None,
        reason: str,
        action: Action,
        allowed_from: Iterable[Status],
    ) -> Record:
        current = self.kb.get(entity_id)
        if current is None:
            raise self._not_found(entity_id)
        allowed = tuple(allowed_from)
        if current.entity.status not in allowed:
            raise InvalidTransition(
                f"{entity_id} is {current.entity.status.value}; {action} needs it to be "
                f"{' or '.join(s.value for s in allowed)}"
            )
        return self.update(
            entity_id,
            {"status": status.value},
            expected_version=expected_version,
            author=author,
            reason=reason,
            action=action,
        )

    def submit(
        self,
        entity_id: str,
        *,
        expected_version: int,
        author: str | None = None,
        reason: str = "submitted for review",
    ) -> Record:
        return self._set_status(
            entity_id,
            Status.IN_REVIEW,
            expected_version=expected_version,
            author=author,
            reason=reason,
            action="submit",
            allowed_from=(Status.DRAFT,),
        )

    def approve(
        self,
        entity_id: str,
        *,
        expected_version: int,
        author: str | None = None,
        reason: str = "approved",
    ) -> Record:
        return self._set_status(
            entity_id,
            Status.APPROVED,
            expected_version=expected_version,
            author=author,
            reason=reason,
            action="approve",
            allowed_from=(Status.IN_REVIEW, Status.DRAFT),
        )

    def reject(
        self, entity_id: str, *, expected_version: int, reason: str, author: str | None = None
    ) -> Record:
        if not reason.strip():
            raise UserError("a rejection needs a reason the author can act on")
        current = self.kb.get(entity_id)
        if current is not None and not self._may_govern(self.actor(author), current.entity):
            raise PermissionDenied(f"{entity_id}: only its owner or a council member may reject")
        return self._set_status(
            entity_id,
            Status.DRAFT,
            expected_version=expected_version,
            author=author,
            reason=reason,
            action="reject",
            allowed_from=(Status.IN_REVIEW,),
        )

    def retire(
        self,
        entity_id: str,
        *,
        expected_version: int,
        author: str | None = None,
        reason: str = "retired",
        successor: str | None = None,
    ) -> Record:
        """Retire an entity; its id stays resolvable (to ``successor`` when given).

        The successor is resolved to the live entity at the end of its own chain, so redirects
        never loop and never end at a retired entity.
        """
        return self._retire(
            entity_id,
            expected_version=expected_version,
            author=author,
            reason=reason,
            successor=successor,
            action="retire",
        )

    def _retire(
        self,
        entity_id: str,
        *,
        expected_version: int,
        author: str | None,
        reason: str,
        successor: str | None,
        action: Action,
    ) -> Record:
        if successor is not None:
            if kind_of(successor) is not kind_of(entity_id):
                raise UserError(
                    f"{entity_id} can only be replaced by another "
                    f"{kind_of(entity_id).value}, not {successor}"
                )
            target = self.get(successor)
            if target.id == entity_id:
                raise UserError(
                    f"{entity_id} cannot be its own successor (directly or through {successor})"
                )
            if target.entity.status is Status.RETIRED:
                raise UserError(
                    f"{successor} leads to {target.id}, which is retired; give a live successor"
                )
            successor = target.id
        return self.update(
            entity_id,
            {"status": Status.RETIRED.value, "successor": successor},
            expected_version=expected_version,
            author=author,
            reason=reason,
            action=action,
        )

    def merge(
        self,
        entity_id: str,
        into: str,
        *,
        expected_version: int,
        author: str | None = None,
        reason: str = "",
    ) -> Record:
        """Merge ``entity_id`` into ``into``: it is retired and redirects there."""
        return self._retire(
            entity_id,
            expected_version=expected_version,
            author=author,
            reason=reason or f"merged into {into}",
            successor=into,
            action="merge",
        )

    # files

    def export(self, folder: str | Path) -> int:
        """Write one YAML file per entity (retired ones included) and the manifest."""
        return write_export(Path(folder), (r.entity for r in self.kb.records()))

    def check_folder(
        self, folder: str | Path, *, author: str | None = None, force: bool = False
    ) -> builtins.list[Finding]:
        """Every finding that importing this folder would give (file:line), writing nothing."""
        from jobgraph.imports import plan_import

        return plan_import(self, Path(folder), self.actor(author), force=force)[2]

    def import_folder(
        self,
        folder: str | Path,
        *,
        author: str | None = None,
        reason: str = "",
        force: bool = False,
        fill_review_due: bool = True,
    ) -> ImportReport:
        """Import a folder written by ``export`` (or by hand): all or nothing.

        Everything is checked first (syntax, fields, ids, references, rules, concurrent edits,
        permissions); if any error is found nothing is written and :class:`ImportFailed`
        carries every finding with its file and line.
        """
        folder = Path(folder)
        actor = self.actor(author)
        from jobgraph.imports import plan_import

        changes, report, findings = plan_import(
            self, folder, actor, force=force, fill_review_due=fill_review_due
        )
        if has_errors(findings):
            raise ImportFailed(findings)
        if changes:
            self.kb.write(changes, actor, reason or f"imported from {folder}", self.clock())
        report.warnings.extend(f for f in findings if f.level is Level.WARNING)
        return report
