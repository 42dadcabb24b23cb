"""The readable summary that `jobgraph demo` prints."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from jobgraph.cli import render
from jobgraph.demo import Demo
from jobgraph.domain.entities import Job, JobLevel, Metric, Persona, StackRelation


def print_demo(console: Console, demo: Demo) -> None:
    ws = demo.workspace
    summary = ws.summary()
    counts = ", ".join(f"{n} {k}" for k, n in summary["entities"].items())
    console.print(
        Panel.fit(
            f"[bold]jobgraph demo[/] — contact-centre starter kit (seeds 000-004)\n"
            f"workspace: {escape(str(ws.root.resolve()))}\n{counts}",
            title="jobgraph",
        )
    )
    entities = ws.entities()
    jobs = sorted(
        (e for e in entities.values() if isinstance(e, Job)),
        key=lambda j: (-(j.importance or 0), j.id),
    )

    table = Table(title="Jobs, most important first")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("underserved", no_wrap=True)
    table.add_column("dimension", no_wrap=True)
    table.add_column("job", overflow="fold")
    for j in jobs:
        if j.level is JobLevel.RELATED:
            continue
        table.add_row(
            f"{j.importance:g}/10" if j.importance is not None else "-",
            "yes" if j.underserved else "",
            j.dimension.value,
            f"{escape(j.title)}\n[dim cyan]{escape(j.id)}[/]",
        )
    console.print(table)

    stacks = [e for e in entities.values() if isinstance(e, StackRelation)]
    for parent in sorted({s.parent for s in stacks}):
        head = entities.get(parent)
        tree = Tree(f"[bold]{escape(head.title if head else parent)}[/] ({parent})")
        children = sorted(
            (s for s in stacks if s.parent == parent),
            key=lambda s: (s.order or 0, s.requirement.value, s.child),
        )
        for rel in children:
            child = entities.get(rel.child)
            bits = [rel.requirement.value, rel.coordination.value.replace("_", "-")]
            if rel.order:
                bits.insert(0, f"step {rel.order}")
            if rel.group:
                bits.append(f"group {rel.group}")
            if rel.condition:
                bits.append(f"when {rel.condition}")
            tree.add(f"{escape(child.title if child else rel.child)} [dim]({', '.join(bits)})[/]")
        console.print(Panel(tree, title="Job stack", expand=False))

    metrics = Table(title="How progress is measured (seed 002)")
    metrics.add_column("metric", style="cyan")
    metrics.add_column("unit")
    metrics.add_column("direction")
    metrics.add_column("target", overflow="fold")
    for m in sorted((e for e in entities.values() if isinstance(e, Metric)), key=lambda m: m.id):
        metrics.add_row(
            escape(m.title),
            escape(m.unit),
            m.direction.value,
            escape(m.target_note or (f"{m.target:g}" if m.target is not None else "-")),
        )
    console.print(metrics)

    personas = Table(title="Personas")
    personas.add_column("kind", no_wrap=True)
    personas.add_column("persona", overflow="fold")
    personas.add_column("jobs", justify="right")
    for p in sorted((e for e in entities.values() if isinstance(e, Persona)), key=lambda p: p.id):
        personas.add_row(
            p.persona_kind.value,
            f"{escape(p.title)}\n[dim cyan]{escape(p.id)}[/]",
            str(len(p.jobs)),
        )
    console.print(personas)

    titles = {r.id: r.entity.title for r in ws.list("outcome")}
    top = sorted(
        (s for s in demo.scores.scores if s.segment == "all"), key=lambda s: -s.opportunity
    )[:6]
    odi = Table(
        title="Top opportunities — synthetic survey of "
        f"{demo.scores.scores[0].n if demo.scores.scores else 0} customers"
    )
    odi.add_column("outcome", overflow="fold")
    for name in ("imp", "sat", "opp", "95% CI"):
        odi.add_column(name, justify="right", no_wrap=True)
    odi.add_column("band")
    for s in top:
        odi.add_row(
            escape(titles.get(s.outcome_id, s.outcome_id)),
            f"{s.importance:.1f}",
            f"{s.satisfaction:.1f}",
            f"{s.opportunity:.1f}",
            f"{s.opportunity_ci_low:.1f}-{s.opportunity_ci_high:.1f}",
            s.band,
        )
    console.print(odi)
    console.print(
        f"[dim]Survey: {escape(str(demo.survey_path))} (generated, synthetic). Scores saved on "
        "each outcome; per-persona scores too."
        + (f" Chart: {escape(str(demo.chart_path))}" if demo.chart_path else "")
        + "[/]"
    )

    if demo.metrics is not None:
        _print_metrics(console, demo)

    findings = ws.validate()
    console.print(f"[bold]Validation:[/] {render.findings_summary(findings)}")
    console.print(
        "\nNext (after `. .venv/bin/activate`), cd into the workspace and try\n"
        "  jobgraph list job\n"
        "  jobgraph show job.resolve-billing-anomaly\n"
        '  jobgraph search "repeat contact"\n'
        "  jobgraph validate\n"
        "  jobgraph export ./kb && jobgraph import ./kb\n"
        "  jobgraph odi score data/synthetic-outcome-survey.csv --segment-by persona\n"
        "  jobgraph odi trend outcome.billing-escalation-likelihood\n"
        "  jobgraph interactions reasons\n"
        "  jobgraph metrics compute --by job --by channel\n"
        "  jobgraph classify train --from-workspace --out model\n"
        '  jobgraph classify predict --model model "why is my bill so high"\n'
        f"or pass --workspace {escape(str(ws.root))} from anywhere."
    )
    if demo.logins:
        _print_web(console, demo)


def _print_web(console: Console, demo: Demo) -> None:
    logins = Table(title="Demo sign-ins for the web app (new passwords on every `jobgraph demo`)")
    logins.add_column("user", style="cyan", no_wrap=True)
    logins.add_column("password", no_wrap=True)
    logins.add_column("role", no_wrap=True)
    logins.add_column("can", overflow="fold")
    for login in demo.logins:
        logins.add_row(escape(login.name), escape(login.password), login.role.value, login.can)
    console.print(logins)
    console.print(
        Panel.fit(
            "Open the demo in your browser: run\n"
            f"  [bold]jobgraph serve --workspace {escape(str(demo.workspace.root))}[/]\n"
            "then visit [bold]http://127.0.0.1:8000/[/] and sign in with a user above.\n"
            "[dim]It listens on 127.0.0.1 only (this machine); the demo passwords are for "
            "trying it out, do not serve this workspace on a shared address.[/]",
            title="Web app",
        )
    )


def _print_metrics(console: Console, demo: Demo) -> None:
    run = demo.metrics
    assert run is not None
    titles = {r.id: r.entity.title for r in demo.workspace.list("job")}
    rows = [r for r in run.rows() if r["job"] is not None]
    unmapped = sum(r["contacts"] for r in run.rows() if r["job"] is None)
    total = sum(r["contacts"] for r in run.rows())
    table = Table(
        title=f"Job metrics — synthetic contact log of {total:,} contacts, "
        f"{run.window_days}-day window"
    )
    table.add_column("job", overflow="fold")
    for name in ("contacts", "repeat", "FCR", "abandon", "done", "CES"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in sorted(rows, key=lambda r: -r["contacts"]):

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.0%}"

        table.add_row(
            escape(titles.get(r["job"], r["job"])),
            f"{r['contacts']:,}",
            pct(r["repeat_rate"]),
            pct(r["fcr"]),
            pct(r["abandonment_rate"]),
            pct(r["job_completion_rate"]),
            "-" if r["ces_mean"] is None else f"{r['ces_mean']:.1f}",
        )
    console.print(table)
    checks = Table(title="Against the metric targets")
    checks.add_column("metric", overflow="fold")
    checks.add_column("job", overflow="fold")
    checks.add_column("value", justify="right", no_wrap=True)
    checks.add_column("target", no_wrap=True)
    checks.add_column("status", no_wrap=True)
    for c in run.targets:
        if c.target is None:
            continue
        colour = {"on target": "green", "off target": "red"}.get(str(c.status), "dim")
        checks.add_row(
            escape(c.metric_id),
            escape(titles.get(str(c.group["job"]), str(c.group["job"]))),
            "-" if c.value_in_unit is None else f"{c.value_in_unit:.2f}",
            f"{c.direction} to {c.target:g}",
            f"[{colour}]{c.status}[/]",
        )
    if checks.row_count:
        console.print(checks)
    console.print(
        f"[dim]{unmapped:,} contacts ({unmapped / total:.0%}) have reasons no job claims yet: "
        "see `jobgraph interactions reasons`. Panels saved on each job (job_panel).[/]"
    )
