"""`jobgraph odi ...`: outcome-driven prioritisation from survey files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jobgraph.analytics.survey import SurveyFormat
from jobgraph.cli.app import err, out, state
from jobgraph.errors import UserError, WorkspaceNotFound
from jobgraph.service import Workspace

odi_app = typer.Typer(
    help="Outcome-driven prioritisation: opportunity scores from surveys.", no_args_is_help=True
)

SurveyArg = Annotated[Path, typer.Argument(help="The survey file (CSV).", show_default=False)]
FormatOpt = Annotated[SurveyFormat, typer.Option("--format", "-f", help="long, wide or qualtrics.")]
ScaleOpt = Annotated[str, typer.Option(help="Rating scale, e.g. 1-5, 1-7, 1-10.")]
TopBoxOpt = Annotated[
    int | None, typer.Option(help="Lowest rating counted as top box (default: top-2-box).")
]
MappingOpt = Annotated[
    Path | None, typer.Option(help="TOML mapping of wide/Qualtrics columns to outcome ids.")
]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of the file.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")]


def _workspace(required: bool) -> Workspace | None:
    try:
        return Workspace.open(state.workspace)
    except WorkspaceNotFound:
        if required:
            raise
        return None


@odi_app.command("score")
def score_cmd(
    survey_path: SurveyArg,
    fmt: FormatOpt = SurveyFormat.LONG,
    scale: ScaleOpt = "1-5",
    top_box: TopBoxOpt = None,
    segment_by: Annotated[
        str | None, typer.Option(help="Respondent attribute to segment by.")
    ] = None,
    mapping: MappingOpt = None,
    encoding: EncodingOpt = "utf-8",
    boot: Annotated[int, typer.Option(help="Bootstrap resamples for the CIs.", min=100)] = 2000,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    chart: Annotated[
        Path | None,
        typer.Option(help="Write the opportunity landscape (.svg, .png, .json or .html)."),
    ] = None,
    save: Annotated[
        bool, typer.Option(help="Save the scores on each outcome in the workspace.")
    ] = False,
    observed_on: Annotated[
        str | None, typer.Option(help="Date of the survey wave (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Score every outcome: importance, satisfaction, opportunity with a bootstrap CI, band.

    Works outside a workspace (scores only). Inside one, outcome ids are checked against the
    knowledge base, and --save stores the scores as dated observations.
    """
    from jobgraph.analytics.odi import score
    from jobgraph.surveys import check_outcomes, load_survey, save_scores

    when = _date(observed_on)
    survey = load_survey(
        survey_path, fmt, scale=scale, top_box=top_box, mapping=mapping, encoding=encoding
    )
    table = score(survey, segment_by=segment_by, n_boot=boot, seed=seed)
    ws = _workspace(required=save)
    try:
        if ws is not None:
            check_outcomes(ws, survey)
        if chart is not None:
            from jobgraph.analytics.landscape import landscape_chart, save_chart

            save_chart(
                landscape_chart(
                    table.frame().assign(label=lambda f: f["outcome_id"]), segment=None
                ),
                chart,
            )
        saved = save_scores(ws, survey, table, observed_on=when) if save and ws else 0
    finally:
        if ws is not None:
            ws.close()
    for note in (*survey.notes, *table.warnings):
        err.print(f"warning: {note}", markup=False)
    if as_json:
        out.print_json(json.dumps([s.as_dict() for s in table.scores]))
        return
    out.print(_scores_table(table, survey.source))
    out.print(
        f"{survey.n_respondents} respondents, {len(survey.outcome_ids)} outcomes, scale "
        f"{survey.scale}; {int(table.confidence * 100)}% CIs from {table.n_boot} bootstrap "
        f"resamples (seed {table.seed})."
    )
    if chart:
        out.print(f"Chart written to {chart}.")
    if saved:
        out.print(f"Saved {saved} observations (observed on {when or 'today'}).")


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--observed-on {text!r} is not a date like 2026-11-23") from None


def _scores_table(table: object, source: str) -> Table:
    from jobgraph.analytics.odi import ScoreTable

    assert isinstance(table, ScoreTable)
    view = Table(title=f"Opportunity scores — {escape(source)}")
    view.add_column("outcome", style="cyan", overflow="fold", min_width=12)
    if table.segment_by:
        view.add_column(table.segment_by, overflow="fold")
    for name in ("n", "imp", "sat", "opp", "95% CI"):
        view.add_column(name, justify="right", no_wrap=True)
    view.add_column("band", overflow="fold")
    rows = sorted(table.scores, key=lambda s: (s.segment != "all", s.segment, -s.opportunity))
    for s in rows:
        cells = [escape(s.outcome_id)]
        if table.segment_by:
            cells.append(escape(s.segment))
        flag = "*" if s.small_sample else ""
        cells += [
            f"{s.n}{flag}",
            f"{s.importance:.1f}",
            f"{s.satisfaction:.1f}",
            f"{s.opportunity:.1f}",
            f"{s.opportunity_ci_low:.1f}-{s.opportunity_ci_high:.1f}",
            s.band + (" (over-served)" if s.overserved else ""),
        ]
        view.add_row(*cells)
    if any(s.small_sample for s in table.scores):
        view.caption = "* fewer than 60 respondents: indicative only"
    return view


@odi_app.command("compare")
def compare_cmd(
    survey_path: SurveyArg,
    outcome: Annotated[str, typer.Option(help="The outcome id to compare.")],
    segment_by: Annotated[str, typer.Option(help="Respondent attribute that defines segments.")],
    a: Annotated[str, typer.Argument(help="First segment value.")],
    b: Annotated[str, typer.Argument(help="Second segment value.")],
    fmt: FormatOpt = SurveyFormat.LONG,
    scale: ScaleOpt = "1-5",
    top_box: TopBoxOpt = None,
    mapping: MappingOpt = None,
    encoding: EncodingOpt = "utf-8",
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Test whether an outcome's opportunity differs between two segments."""
    from jobgraph.analytics.odi import compare_segments
    from jobgraph.surveys import load_survey

    survey = load_survey(
        survey_path, fmt, scale=scale, top_box=top_box, mapping=mapping, encoding=encoding
    )
    result = compare_segments(survey, outcome, segment_by, a, b, seed=seed)
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    out.print(
        f"{escape(outcome)}: opportunity {result.opportunity_a:.1f} for {escape(a)} "
        f"(n={result.n_a}) vs {result.opportunity_b:.1f} for {escape(b)} (n={result.n_b}); "
        f"difference {result.difference:+.2f} "
        f"(95% CI {result.ci_low:+.2f} to {result.ci_high:+.2f}), "
        f"permutation p = {result.p_value:.4f}"
    )


@odi_app.command("trend")
def trend_cmd(
    outcome: Annotated[str, typer.Argument(metavar="OUTCOME_ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show an outcome's saved scores over survey waves."""
    from jobgraph.surveys import trend

    ws = _workspace(required=True)
    assert ws is not None
    try:
        observations = trend(ws, outcome)
    finally:
        ws.close()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "observed_on": o.observed_on.isoformat(),
                        "segment": o.segment,
                        "source": o.source,
                        **o.values,
                    }
                    for o in observations
                ]
            )
        )
        return
    view = Table(title=f"Opportunity over time — {escape(outcome)}")
    for name in ("observed on", "segment", "n", "imp", "sat", "opp", "95% CI", "source"):
        view.add_column(name, overflow="fold")
    for o in observations:
        v = o.values
        view.add_row(
            o.observed_on.isoformat(),
            escape(o.segment),
            str(v["n"]),
            f"{v['importance']:.1f}",
            f"{v['satisfaction']:.1f}",
            f"{v['opportunity']:.1f}",
            f"{v['opportunity_ci_low']:.1f}-{v['opportunity_ci_high']:.1f}",
            escape(o.source),
        )
    out.print(view)
    if not observations:
        out.print("No saved scores yet: run `jobgraph odi score SURVEY --save` in the workspace.")


@odi_app.command("segment")
def segment_cmd(
    survey_path: SurveyArg,
    fmt: FormatOpt = SurveyFormat.LONG,
    scale: ScaleOpt = "1-5",
    top_box: TopBoxOpt = None,
    mapping: MappingOpt = None,
    encoding: EncodingOpt = "utf-8",
    k_min: Annotated[int, typer.Option(help="Fewest segments to try.", min=2)] = 2,
    k_max: Annotated[int, typer.Option(help="Most segments to try.", min=2)] = 6,
    boot: Annotated[
        int, typer.Option(help="Bootstrap resamples for cluster stability.", min=10)
    ] = 50,
    seed: SeedOpt = 0,
    assignments: Annotated[
        Path | None, typer.Option(help="Write each respondent's segment to this CSV file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Find outcome-based segments: respondents with the same unmet outcomes.

    Clusters per-respondent opportunity profiles for each k, and reports the k chosen with its
    silhouette and bootstrap stability (mean Jaccard per cluster, as in Hennig's clusterboot).
    When no stable structure exists it says so instead of inventing segments.
    """
    from jobgraph.analytics.odi import respondent_profiles
    from jobgraph.analytics.segmentation import segment_respondents
    from jobgraph.surveys import load_survey

    survey = load_survey(
        survey_path, fmt, scale=scale, top_box=top_box, mapping=mapping, encoding=encoding
    )
    result = segment_respondents(
        respondent_profiles(survey),
        survey.attributes,
        k_min=k_min,
        k_max=k_max,
        n_boot=boot,
        seed=seed,
    )
    if assignments is not None:
        result.assignments.rename("segment").rename_axis("respondent_id").to_csv(assignments)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    if as_json:
        data = result.as_dict()
        data.pop("assignments")
        out.print_json(json.dumps(data))
        return
    out.print(f"[bold]{result.verdict.value}[/]: {escape(result.message)}")
    cands = Table(title="Candidates")
    for name in ("k", "silhouette", "min Jaccard", "mean Jaccard per cluster", "stable"):
        cands.add_column(name, justify="right")
    for c in result.candidates:
        marker = " <" if c.k == result.chosen_k else ""
        cands.add_row(
            f"{c.k}{marker}",
            f"{c.silhouette:.3f}",
            f"{c.min_jaccard:.2f}",
            ", ".join(f"{j:.2f}" for j in c.mean_jaccard),
            "yes" if c.stable else "",
        )
    out.print(cands)
    for seg in result.segments:
        top = "; ".join(f"{g.outcome_id} (+{g.difference:.1f})" for g in seg.top_outcomes[:3])
        lifts = ", ".join(
            f"{lift.attribute}={lift.value} x{lift.lift:.1f}" for lift in seg.over_represented[:3]
        )
        out.print(
            f"[bold]{seg.label}[/] {seg.size} respondents ({seg.share:.0%}), "
            f"{seg.stability.value} (Jaccard {seg.jaccard:.2f}). Most underserved vs "
            f"others: {escape(top)}" + (f". Over-represented: {escape(lifts)}" if lifts else "")
        )
    if assignments is not None:
        out.print(f"Assignments written to {assignments}.")
