"""Planning a file import: everything an import of a folder would change, and every finding,
without writing anything. ``Workspace.import_folder`` writes the plan; ``check_folder`` shows it."""

from __future__ import annotations

from pathlib import Path

from jobgraph.domain.entities import Entity, to_data
from jobgraph.domain.findings import Finding, Level, sort_findings
from jobgraph.domain.lint import lint
from jobgraph.errors import InvalidTransition, PermissionDenied
from jobgraph.service import ImportReport, Workspace
from jobgraph.store.files import content_hash, load_folder
from jobgraph.store.repository import Change, Record


def plan_import(
    ws: Workspace,
    folder: Path,
    actor: str,
    *,
    force: bool = False,
    fill_review_due: bool = True,
) -> tuple[list[Change], ImportReport, list[Finding]]:
    """What importing ``folder`` would change, and every finding; writes nothing."""
    loaded = load_folder(folder)
    findings = list(loaded.findings)
    current = {r.id: r for r in ws.kb.records()}
    incoming: dict[str, Entity] = {}
    for eid, entity in loaded.entities.items():
        if fill_review_due and eid not in current:
            entity = ws.with_defaults(entity)
        incoming[eid] = entity

    before = {
        (f.entity_id, f.code, f.field)
        for f in lint({i: r.entity for i, r in current.items()}, today=ws.today())
        if f.level is Level.ERROR
    }
    view = {i: r.entity for i, r in current.items()}
    view.update(incoming)
    for f in lint(view, today=ws.today()):
        if f.entity_id in incoming or (
            f.level is Level.ERROR and (f.entity_id, f.code, f.field) not in before
        ):
            findings.append(loaded.locate(f))

    changes: list[Change] = []
    report = ImportReport()
    for eid in sorted(incoming):
        record = current.get(eid)
        if record is not None and to_data(record.entity) == to_data(incoming[eid]):
            report.unchanged.append(eid)
            continue
        base = (loaded.base_hashes or {}).get(eid)
        problem = None if force or record is None else _edit_conflict(record, base)
        if problem is not None:
            findings.append(loaded.locate(problem))
            continue
        entity = incoming[eid]
        if record is None:
            changes.append(Change(entity, None, "import"))
            report.created.append(eid)
        else:
            demoted = ws.demote_if_needed(record.entity, entity, actor)
            was_demoted, entity = demoted is not entity, demoted
            changes.append(Change(entity, record.version, "import"))
            report.updated.append(eid)
        try:
            ws.check_transition(
                record.entity if record else None,
                entity,
                actor,
                demoted=record is not None and was_demoted,
            )
        except (PermissionDenied, InvalidTransition) as exc:
            findings.append(
                loaded.locate(Finding(Level.ERROR, "permission", str(exc), eid, "status"))
            )

    return changes, report, sort_findings(findings)


def _edit_conflict(record: Record, base: str | None) -> Finding | None:
    """Why a file's version of an existing entity may not overwrite it, if it may not."""
    if base is None:
        return Finding(
            Level.ERROR,
            "no-base",
            f"already exists in the knowledge base (version {record.version}) and this folder "
            "does not record which version it was exported from; export first and edit the "
            "exported file, or pass --force to overwrite",
            record.id,
            "id",
        )
    if base != content_hash(record.entity):
        return Finding(
            Level.ERROR,
            "conflict",
            "was changed in the knowledge base since this folder was exported (now version "
            f"{record.version}, by {record.updated_by} at {record.updated_at:%Y-%m-%d %H:%M} "
            "UTC); export again and reapply your edit, or pass --force to overwrite",
            record.id,
            "id",
        )
    return None
