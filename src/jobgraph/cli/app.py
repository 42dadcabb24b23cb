"""The `jobgraph` command line: a thin shell over :class:`jobgraph.service.Workspace`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jobgraph.cli import render
from jobgraph.config import Settings
from jobgraph.domain.findings import Level
from jobgraph.service import STARTERS, Workspace

app = typer.Typer(
    name="jobgraph",
    help="A governed Jobs-to-be-Done and persona knowledge base for CX and contact-centre teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    workspace: Path | None = None
    verbose: bool = False


state = State()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: the current folder or "
        "one above it, or $JOBGRAPH_WORKSPACE).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AuthorOpt = Annotated[
    str | None,
    typer.Option(
        "--author",
        help="Name recorded in the history (default: $JOBGRAPH_USER or your login name).",
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", "-m", help="Why, recorded in the history.")]
VersionOpt = Annotated[
    int,
    typer.Option(
        "--version",
        "-v",
        help="The version you read (see `jobgraph show`); a stale version is refused.",
    ),
]


def _register_subcommands() -> None:
    from jobgraph.cli.classify import app as classify_app
    from jobgraph.cli.classify import discover
    from jobgraph.cli.interactions import interactions_app
    from jobgraph.cli.metrics import metrics_app
    from jobgraph.cli.odi import odi_app
    from jobgraph.cli.web import register as register_web

    app.add_typer(odi_app, name="odi")
    app.add_typer(interactions_app, name="interactions")
    app.add_typer(metrics_app, name="metrics")
    register_web(app)  # serve, users, tokens
    app.add_typer(classify_app, name="classify")
    app.command("discover")(discover)


@app.callback()
def _main(
    workspace: WorkspaceOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks on errors.")] = False,
) -> None:
    state.workspace = workspace
    state.verbose = verbose


@contextmanager
def _open(workspace: Path | None = None) -> Iterator[Workspace]:
    ws = Workspace.open(workspace or state.workspace)
    try:
        yield ws
    finally:
        ws.close()


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")],
    starter: Annotated[
        str | None,
        typer.Option(help=f"Load a starter kit: {', '.join(sorted(STARTERS))}."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Workspace name.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (default: a SQLite file in the folder).")
    ] = None,
    author: AuthorOpt = None,
) -> None:
    """Create a workspace: config file, SQLite database and data folder."""
    ws = Workspace.init(
        directory, starter=starter, name=name, database_url=database_url, author=author
    )
    try:
        summary = ws.summary()
    finally:
        ws.close()
    n = sum(summary["entities"].values())
    out.print(
        f"Created workspace [bold]{summary['workspace']}[/] in {directory} "
        f"with {n} entities" + (f" from the {starter} starter kit" if starter else "") + "."
    )
    out.print(
        f"You ({author or Settings().author()}) are on its council; edit "
        f"{directory}/jobgraph.toml to add others."
    )


@app.command()
def validate(
    path: Annotated[
        Path | None,
        typer.Argument(help="A folder of YAML files to check instead of the knowledge base."),
    ] = None,
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option(help="Exit non-zero on warnings too.")] = False,
    force: Annotated[
        bool, typer.Option(help="With a folder: as `import --force` would (no conflict checks).")
    ] = False,
) -> None:
    """Print every finding; exit non-zero when there is an error.

    With a folder, reports exactly what `jobgraph import` of that folder would report.
    """
    with _open() as ws:
        findings = ws.check_folder(path, force=force) if path else ws.validate()
    if as_json:
        render.print_json(out, [f.as_dict() for f in findings])
    else:
        if findings:
            out.print(render.findings_table(findings))
        out.print(render.findings_summary(findings))
    failed = any(f.level is Level.ERROR for f in findings) or (strict and bool(findings))
    raise typer.Exit(1 if failed else 0)


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="Folder written by `jobgraph export`.")],
    author: AuthorOpt = None,
    reason: ReasonOpt = "",
    force: Annotated[
        bool, typer.Option(help="Overwrite entities changed since the export.")
    ] = False,
) -> None:
    """Import a folder of YAML files: everything is checked first, then all or nothing."""
    with _open() as ws:
        report = ws.import_folder(directory, author=author, reason=reason, force=force)
    out.print(
        f"Imported {directory}: {len(report.created)} created, {len(report.updated)} "
        f"updated, {len(report.unchanged)} unchanged, {len(report.warnings)} warning(s)."
    )


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write (created if needed).")],
) -> None:
    """Write one YAML file per entity, deterministically formatted."""
    with _open() as ws:
        n = ws.export(directory)
    out.print(f"Exported {n} entities to {directory}.")


@app.command("list")
def list_(
    kind: Annotated[
        str | None,
        typer.Argument(
            help="job, outcome, persona, scenario, stack, evidence or metric (default: all)."
        ),
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, in_review, approved or retired.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only entities of this owner.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List entities."""
    with _open() as ws:
        records = ws.list(kind, status=status, owner=owner)
    if as_json:
        render.print_json(
            out, {"data": [render.record_json(r) for r in records], "count": len(records)}
        )
    else:
        out.print(render.records_table(records))
        out.print(f"{len(records)} entities")


@app.command()
def show(
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. job.pay-a-bill")],
    follow: Annotated[bool, typer.Option(help="Follow retired ids to their successor.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Show one entity by its stable id."""
    with _open() as ws:
        record = ws.get(entity_id, follow=follow)
        links = ws.links_to(record.id)
    if as_json:
        data = render.record_json(record)
        data["requested_id"] = entity_id
        data["linked_from"] = [{"id": s, "field": f} for s, f in links]
        render.print_json(out, data)
        return
    if record.id != entity_id:
        out.print(f"[yellow]{entity_id} is retired; showing its successor {record.id}[/]")
    out.print(render.record_detail(record, links))


@app.command()
def history(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOpt = False,
) -> None:
    """Show every revision of an entity: who, when, why."""
    with _open() as ws:
        revisions = ws.history(entity_id)
    if as_json:
        render.print_json(out, [render.revision_json(r) for r in revisions])
    else:
        out.print(render.history_table(revisions))


@app.command()
def diff(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    from_version: Annotated[int, typer.Argument(metavar="FROM")],
    to_version: Annotated[int, typer.Argument(metavar="TO")],
    as_json: JsonOpt = False,
) -> None:
    """Show what changed between two versions of an entity."""
    with _open() as ws:
        changes = ws.diff(entity_id, from_version, to_version)
    if as_json:
        render.print_json(out, [render.change_json(c) for c in changes])
    elif changes:
        out.print(render.diff_table(changes))
    else:
        out.print("No differences.")


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words that must all appear.")],
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Find entities by the words in any of their fields."""
    with _open() as ws:
        records = ws.search(text, kind=kind, limit=limit)
    if as_json:
        render.print_json(
            out, {"data": [render.record_json(r) for r in records], "count": len(records)}
        )
    else:
        out.print(render.records_table(records))
        out.print(f"{len(records)} match(es)")


@app.command()
def submit(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    version: VersionOpt,
    author: AuthorOpt = None,
    reason: ReasonOpt = "submitted for review",
) -> None:
    """Submit a draft for review by its owner or the council."""
    with _open() as ws:
        r = ws.submit(entity_id, expected_version=version, author=author, reason=reason)
    out.print(f"{r.id} is now {r.entity.status.value} (version {r.version}).")


@app.command()
def approve(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    version: VersionOpt,
    author: AuthorOpt = None,
    reason: ReasonOpt = "approved",
) -> None:
    """Approve an entity (its owner or a council member only)."""
    with _open() as ws:
        r = ws.approve(entity_id, expected_version=version, author=author, reason=reason)
    out.print(f"{r.id} is now {r.entity.status.value} (version {r.version}).")


@app.command()
def reject(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    version: VersionOpt,
    reason: Annotated[str, typer.Option("--reason", "-m", help="What to fix.")],
    author: AuthorOpt = None,
) -> None:
    """Send an entity in review back to draft, with a reason."""
    with _open() as ws:
        r = ws.reject(entity_id, expected_version=version, author=author, reason=reason)
    out.print(f"{r.id} is now {r.entity.status.value} (version {r.version}).")


@app.command()
def retire(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    version: VersionOpt,
    successor: Annotated[str | None, typer.Option(help="Id that replaces it.")] = None,
    author: AuthorOpt = None,
    reason: ReasonOpt = "retired",
) -> None:
    """Retire an entity; its id keeps resolving (to its successor when given)."""
    with _open() as ws:
        r = ws.retire(
            entity_id, expected_version=version, author=author, reason=reason, successor=successor
        )
    out.print(
        f"{r.id} is retired (version {r.version})"
        + (f"; it now redirects to {r.entity.successor}." if r.entity.successor else ".")
    )


@app.command()
def merge(
    entity_id: Annotated[str, typer.Argument(metavar="ID")],
    into: Annotated[str, typer.Argument(metavar="INTO")],
    version: VersionOpt,
    author: AuthorOpt = None,
    reason: ReasonOpt = "",
) -> None:
    """Merge an entity into another: it is retired and its id redirects there."""
    with _open() as ws:
        r = ws.merge(entity_id, into, expected_version=version, author=author, reason=reason)
    out.print(f"{r.id} merged into {r.entity.successor} (version {r.version}).")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "jobgraph-demo"
    ),
) -> None:
    """Build a demo workspace with the contact-centre starter kit and summarise it."""
    from jobgraph.cli.demo import print_demo
    from jobgraph.demo import create_demo

    demo_ws = create_demo(directory)
    try:
        print_demo(out, demo_ws)
    finally:
        demo_ws.workspace.close()


_register_subcommands()
