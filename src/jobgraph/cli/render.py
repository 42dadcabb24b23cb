"""Formatting of records, findings and histories for the terminal and for --json."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobgraph.domain.diff import FieldChange
from jobgraph.domain.entities import to_data
from jobgraph.domain.findings import Finding, Level
from jobgraph.store.repository import Record, Revision


def record_json(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.entity.kind.value,
        "version": record.version,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
        "updated_at": record.updated_at.isoformat(),
        "updated_by": record.updated_by,
        "data": to_data(record.entity),
    }


def revision_json(rev: Revision) -> dict[str, Any]:
    return {
        "entity_id": rev.entity_id,
        "version": rev.version,
        "action": rev.action,
        "author": rev.author,
        "at": rev.at.isoformat(),
        "reason": rev.reason,
        "snapshot": rev.snapshot,
    }


def change_json(change: FieldChange) -> dict[str, Any]:
    return {"path": change.path, "change": change.kind, "old": change.old, "new": change.new}


def print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False, default=str))


def _short(value: Any, width: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def records_table(records: Sequence[Record], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("status")
    table.add_column("owner")
    table.add_column("v", justify="right")
    for r in records:
        e = r.entity
        table.add_row(
            escape(e.id),
            escape(_short(e.title, 60)),
            e.status.value,
            escape(e.owner or "-"),
            str(r.version),
        )
    return table


def record_detail(record: Record, links: Iterable[tuple[str, str]]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value")
    for key, value in to_data(record.entity).items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            shown = "\n".join(f"• {v}" for v in value)
        elif isinstance(value, (list, dict)):
            shown = json.dumps(value, ensure_ascii=False, indent=1)
        else:
            shown = str(value)
        table.add_row(key, escape(shown))
    table.add_row(
        "version",
        f"{record.version} (updated {record.updated_at:%Y-%m-%d %H:%M} "
        f"UTC by {escape(record.updated_by)})",
    )
    backlinks = [f"{src} ({field})" for src, field in links]
    if backlinks:
        table.add_row("linked from", escape("\n".join(backlinks)))
    return table


def findings_table(findings: Sequence[Finding]) -> Table:
    table = Table(show_lines=False)
    table.add_column("level")
    table.add_column("where", style="cyan", overflow="fold")
    table.add_column("code")
    table.add_column("message", overflow="fold")
    for f in findings:
        style = "red" if f.level is Level.ERROR else "yellow"
        table.add_row(f"[{style}]{f.level.value}[/]", escape(f.location), f.code, escape(f.message))
    return table


def findings_summary(findings: Sequence[Finding]) -> str:
    errors = sum(f.level is Level.ERROR for f in findings)
    warnings = len(findings) - errors
    by_code = Counter(f.code for f in findings if f.level is Level.WARNING)
    top = ", ".join(f"{code} {n}" for code, n in by_code.most_common(5))
    text = f"{errors} error(s), {warnings} warning(s)"
    return text + (f" — warnings: {top}" if top else "")


def history_table(revisions: Sequence[Revision]) -> Table:
    table = Table()
    table.add_column("v", justify="right")
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("who")
    table.add_column("action")
    table.add_column("why", overflow="fold")
    for r in revisions:
        table.add_row(
            str(r.version),
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            escape(r.author),
            r.action,
            escape(r.reason),
        )
    return table


def diff_table(changes: Sequence[FieldChange]) -> Table:
    table = Table()
    table.add_column("field", style="bold")
    table.add_column("before", style="red", overflow="fold")
    table.add_column("after", style="green", overflow="fold")
    for c in changes:
        table.add_row(
            escape(c.path),
            escape(_short(c.old, 200) if c.old is not None else "—"),
            escape(_short(c.new, 200) if c.new is not None else "—"),
        )
    return table
