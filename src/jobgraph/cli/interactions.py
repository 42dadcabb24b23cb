"""`jobgraph interactions ...`: contact-centre logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from jobgraph.cli.app import err, out, state
from jobgraph.service import Workspace

interactions_app = typer.Typer(
    help="Contact-centre logs: import exports, see contact reasons and their mapping.",
    no_args_is_help=True,
)


@interactions_app.command("import")
def import_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Export files (CSV, TSV, Parquet or Amazon Connect JSON).", show_default=False
        ),
    ],
    preset: Annotated[
        str,
        typer.Option(
            help="technion (the 1999 bank log), amazon-connect (contact trace records, JSON / "
            "JSON Lines) or generic."
        ),
    ] = "generic",
    mapping: Annotated[Path | None, typer.Option(help="TOML column mapping (generic).")] = None,
    classifier: Annotated[
        Path | None,
        typer.Option(
            "--classifier",
            help="Model folder from `jobgraph classify train`: classify the contacts that have "
            "text and no reason code.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import contact exports: pseudonymised, redacted, bad rows quarantined, idempotent.

    All files are read and checked first; then their contacts are added together, or none.
    With --classifier, new contacts with text and no reason are mapped to jobs by the model
    (job, confidence and model version are stored; below the model's threshold a contact
    stays unmapped).
    """
    from jobgraph.cli.classify import progress_stages
    from jobgraph.interactions import import_contacts

    ws = Workspace.open(state.workspace)
    try:
        with progress_stages(as_json) as stage:
            done = import_contacts(
                ws, paths, preset, mapping=mapping, classifier=classifier, stage=stage
            )
    finally:
        ws.close()
    report = done.classified
    classified = (
        None
        if report is None
        else {
            "model_version": report.model_version,
            "classified": report.classified,
            "mapped": report.mapped,
            "abstained": report.abstained,
            "unresolved": report.unresolved,
        }
    )
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "files": [
                        {
                            "source": r.source,
                            "read": r.counts.read,
                            "accepted": r.counts.accepted,
                            "quarantined": r.counts.quarantined,
                            "excluded": r.excluded,
                        }
                        for r in done.ingests
                    ],
                    "added": done.written.added,
                    "already_present": done.written.already_present,
                    "months": list(done.written.months),
                    "quarantine_files": [str(f) for f in done.quarantine_files],
                    "classified": classified,
                }
            )
        )
        return
    for result in done.ingests:
        out.print(result.summary(), markup=False)
    out.print(
        f"{done.written.added} contacts added, {done.written.already_present} already "
        f"present; months: {', '.join(done.written.months) or '-'}"
    )
    if report is not None:
        out.print(
            f"{report.classified} contacts with text and no reason classified by model "
            f"{report.model_version}: {report.mapped} mapped to a job, {report.abstained} left "
            f"unmapped (low confidence)"
            + (f", {report.unresolved} with a label that is no job" if report.unresolved else ""),
            markup=False,
        )
    for result, qfile in zip(
        [r for r in done.ingests if len(r.quarantine)], done.quarantine_files, strict=True
    ):
        err.print(
            f"warning: {result.counts.quarantined} row(s) of {result.source} quarantined with "
            f"their reasons in {qfile}",
            markup=False,
        )


@interactions_app.command("reasons")
def reasons_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Contact reasons by volume, with the job each maps to (or none yet).

    Map a reason by adding it to a job's contact_reasons (edit the job's YAML and import, or
    use the web app); unmapped volume is what an analyst should map next.
    """
    from jobgraph.metrics import reason_volumes

    ws = Workspace.open(state.workspace)
    try:
        volumes = reason_volumes(ws)
    finally:
        ws.close()
    rows: list[dict[str, Any]] = [
        {
            "reason": r.reason if isinstance(r.reason, str) else None,
            "contacts": int(r.contacts),
            "share": float(r.share),
            "job": r.job_id if isinstance(r.job_id, str) else None,
            "mapped_by": r.mapped_by if isinstance(r.mapped_by, str) else None,
        }
        for r in volumes.itertuples()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    total = sum(r["contacts"] for r in rows)
    unmapped = sum(r["contacts"] for r in rows if r["job"] is None)
    table = Table("reason", "contacts", "share", "job", "mapped by", title="Contact reasons")
    for r in rows:
        table.add_row(
            escape(str(r["reason"])) if r["reason"] is not None else "(none)",
            f"{r['contacts']:,}",
            f"{100 * r['share']:.1f} %",
            escape(r["job"]) if r["job"] else "[yellow]unmapped[/yellow]",
            r["mapped_by"] or "",
        )
    out.print(table)
    share = unmapped / total if total else 0.0
    out.print(f"{unmapped:,} of {total:,} contacts ({100 * share:.1f} %) have no job yet.")
