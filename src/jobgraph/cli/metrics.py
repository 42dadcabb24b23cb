"""`jobgraph metrics ...`: the job metric panel from the workspace's contacts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from jobgraph.cli.app import err, out, state
from jobgraph.service import Workspace

metrics_app = typer.Typer(
    help="Job metrics from contact logs: repeat, FCR, abandonment, effort, completion.",
    no_args_is_help=True,
)

_SHOWN = (
    ("contacts", "contacts", "{:,.0f}"),
    ("repeat_rate", "repeat", "{:.1%}"),
    ("fcr", "FCR", "{:.1%}"),
    ("abandonment_rate", "abandon", "{:.1%}"),
    ("wait_mean_s", "wait", "{:.0f}s"),
    ("handle_mean_s", "AHT", "{:.0f}s"),
    ("handle_std_s", "AHT sd", "{:.0f}s"),
    ("job_completion_rate", "done", "{:.1%}"),
    ("ces_mean", "CES", "{:.2f}"),
    ("nps", "NPS", "{:+.0f}"),
)


def _fmt(value: object, pattern: str) -> str:
    if value is None:
        return "-"
    return pattern.format(value)


@metrics_app.command("compute")
def compute_cmd(
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Group by job, reason, persona, channel, agent, queue or month; repeat for "
            "several (--by job --by channel).",
            show_default="job",
        ),
    ] = None,
    window: Annotated[
        str, typer.Option(help="Repeat and episode window W, in days (7d) or weeks (2w).")
    ] = "7d",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Read the data as at this date or time (UTC); contacts after it are left "
            "out and windows past it are censored. Default: the last contact.",
        ),
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark.")] = "duckdb",
    spark_master: Annotated[
        str | None, typer.Option(help="Spark master URL (default local[*]).")
    ] = None,
    short_abandon: Annotated[
        float | None,
        typer.Option(help="Leave abandons within this many seconds of waiting out of abandonment."),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Store each job's row as a dated observation.")
    ] = False,
    author: Annotated[str | None, typer.Option(help="Name recorded with --save.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Compute the job metric panel (docs/metrics.md) and compare it with the metric targets."""
    from jobgraph.metrics import compute_metrics, save_metrics

    names: list[str] = []
    for item in by or ["job"]:
        names.extend(part.strip() for part in item.split(",") if part.strip())
    ws = Workspace.open(state.workspace)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            task = progress.add_task("starting", total=None)
            run = compute_metrics(
                ws,
                by=names,
                window_days=window,
                as_of=as_of,
                engine=engine,
                short_abandon_seconds=short_abandon,
                spark_master=spark_master,
                step=lambda text: progress.update(task, description=text),
                progress=lambda text, done, total: progress.update(
                    task, description=text, completed=done, total=total
                ),
            )
        saved = save_metrics(ws, run, author=author) if save else 0
    finally:
        ws.close()
    rows = run.rows()
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    end = run.data_end.isoformat() if run.data_end else "-"
    out.print(
        f"Job metric panel by {', '.join(run.by)}: W = {run.window_days} days, data end {end}, "
        f"engine {run.engine}" + (" (repeats follow the reason)" if run.chain == "reason" else ""),
        markup=False,
    )
    table = Table()
    for b in run.by:
        table.add_column(b, no_wrap=True)
    for _, label, _ in _SHOWN:
        table.add_column(label, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            *(escape(str(row[b])) if row[b] is not None else "(unmapped)" for b in run.by),
            *(_fmt(row[c], p) for c, _, p in _SHOWN),
        )
    out.print(table)
    censored = sum(r["censored"] for r in rows)
    out.print(
        f"{censored:,} contacts censored (their {run.window_days}-day window passes the data "
        "end): left out of repeat and FCR."
    )
    if run.targets:
        checks = Table(title="Against targets", title_justify="left")
        for name in ("metric", *run.by, "value", "target", "status"):
            checks.add_column(name, no_wrap=True)
        for c in run.targets:
            value = "-" if c.value_in_unit is None else f"{c.value_in_unit:.3g}"
            target = "-" if c.target is None else f"{c.direction} to {c.target:g}"
            colour = {"on target": "green", "off target": "red"}.get(str(c.status), "dim")
            checks.add_row(
                escape(c.metric_id),
                *(escape(str(c.group[b])) if c.group[b] is not None else "-" for b in run.by),
                f"{value} {escape(c.unit)}",
                target,
                f"[{colour}]{c.status}[/{colour}]",
            )
        out.print(checks)
    if save:
        out.print(f"saved {saved} observation(s) (job_panel) dated {end[:10]}")
