"""`jobgraph contacts ...`: contact-centre logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jobgraph.cli.app import err, out, state
from jobgraph.service import Workspace

contacts_app = typer.Typer(
    help="Contact-centre logs: import exports into the workspace.", no_args_is_help=True
)


@contacts_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="The export file (CSV, TSV or Parquet).")],
    preset: Annotated[
        str, typer.Option(help="technion (the 1999 bank log) or generic.")
    ] = "generic",
    mapping: Annotated[Path | None, typer.Option(help="TOML column mapping (generic).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import a contact export: pseudonymised, redacted, bad rows quarantined, idempotent."""
    from jobgraph.interactions import import_contacts

    ws = Workspace.open(state.workspace)
    try:
        done = import_contacts(ws, path, preset, mapping=mapping)
    finally:
        ws.close()
    counts = done.ingest.counts
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "read": counts.read,
                    "accepted": counts.accepted,
                    "quarantined": counts.quarantined,
                    "excluded": done.ingest.excluded,
                    "added": done.written.added,
                    "already_present": done.written.already_present,
                    "months": list(done.written.months),
                    "quarantine_file": str(done.quarantine_file) if done.quarantine_file else None,
                }
            )
        )
        return
    out.print(done.ingest.summary(), markup=False)
    out.print(
        f"{done.written.added} contacts added, {done.written.already_present} already "
        f"present; months: {', '.join(done.written.months) or '-'}"
    )
    if done.quarantine_file:
        err.print(
            f"warning: {counts.quarantined} row(s) quarantined with their reasons in "
            f"{done.quarantine_file}",
            markup=False,
        )
