"""Use cases for outcome surveys: score them, check them against the knowledge base, save the
scores as dated observations on each outcome, and read the trend back."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jobgraph.analytics.odi import ScoreTable
from jobgraph.analytics.survey import Scale, Survey, SurveyFormat, WideMapping, read_survey
from jobgraph.domain.entities import Status
from jobgraph.domain.ids import Kind, parse_id
from jobgraph.errors import UserError
from jobgraph.service import Workspace
from jobgraph.store.repository import Observation, add_observations, observations_of

ODI = "odi"


@dataclass(frozen=True)
class ScoredSurvey:
    survey: Survey
    table: ScoreTable


def load_survey(
    path: str | Path,
    fmt: SurveyFormat | str = SurveyFormat.LONG,
    *,
    scale: str = "1-5",
    top_box: int | None = None,
    mapping: str | Path | None = None,
    encoding: str = "utf-8",
    persona_column: str | None = "persona",
) -> Survey:
    """Read and check a survey file in any supported format."""
    return read_survey(
        path,
        fmt,
        scale=Scale.parse(scale, top_box),
        mapping=WideMapping.read(Path(mapping)) if mapping else None,
        encoding=encoding,
        persona_column=persona_column,
    )


def check_outcomes(ws: Workspace, survey: Survey) -> None:
    """Every outcome id in the survey must be an outcome of the knowledge base."""
    problems = []
    known = ws.kb.get_many(survey.outcome_ids)
    all_outcomes: list[str] | None = None
    for oid in survey.outcome_ids:
        record = known.get(oid)
        if record is None:
            try:
                parse_id(oid)
            except ValueError:
                problems.append(f"{oid!r} is not an outcome id (like outcome.time-to-resolve)")
                continue
            if all_outcomes is None:
                all_outcomes = [r.id for r in ws.list(Kind.OUTCOME)]
            close = difflib.get_close_matches(oid, all_outcomes, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{oid} is not in the knowledge base{hint}")
        elif record.entity.kind is not Kind.OUTCOME:
            problems.append(f"{oid} is a {record.entity.kind.value}, not an outcome")
        elif record.entity.status is Status.RETIRED:
            succ = record.entity.successor
            problems.append(f"{oid} is retired" + (f"; use {succ}" if succ else ""))
    problems += _persona_problems(ws, survey)
    if problems:
        raise UserError(
            f"{survey.source}: the survey does not match the knowledge base (nothing was saved; "
            "fix the ids, or score the file outside the workspace):\n  " + "\n  ".join(problems)
        )


def _persona_problems(ws: Workspace, survey: Survey) -> list[str]:
    """The persona column, when there is one, must name personas of the knowledge base."""
    column = survey.persona_column
    if column is None:
        return []
    values = sorted({str(v) for v in survey.attributes[column].dropna().unique()})
    known = ws.kb.get_many(values)
    problems = []
    for value in values:
        record = known.get(value)
        if record is None:
            problems.append(f"column {column!r}: {value!r} is not a persona of the knowledge base")
        elif record.entity.kind is not Kind.PERSONA:
            problems.append(
                f"column {column!r}: {value} is a {record.entity.kind.value}, not a persona"
            )
    return problems


def save_scores(
    ws: Workspace,
    survey: Survey,
    table: ScoreTable,
    *,
    observed_on: date | None = None,
    author: str | None = None,
) -> int:
    """Store each outcome's scores (per segment) as a dated observation; all or nothing."""
    check_outcomes(ws, survey)
    when = observed_on or ws.today()
    source = f"survey {survey.source}"
    observations = [
        Observation(
            entity_id=s.outcome_id,
            kind=ODI,
            observed_on=when,
            segment=s.segment
            if table.segment_by is None or s.segment == "all"
            else f"{table.segment_by}={s.segment}",
            values={
                "n": s.n,
                "importance": s.importance,
                "satisfaction": s.satisfaction,
                "opportunity": s.opportunity,
                "opportunity_ci_low": s.opportunity_ci_low,
                "opportunity_ci_high": s.opportunity_ci_high,
                "band": s.band,
                "overserved": s.overserved,
                "scale": str(survey.scale),
                "confidence": table.confidence,
                "n_boot": table.n_boot,
                "seed": table.seed,
            },
            source=source,
        )
        for s in table.scores
    ]
    return add_observations(ws.kb, observations, ws.actor(author), ws.clock())


def trend(ws: Workspace, outcome_id: str) -> list[Observation]:
    """The ODI observations of an outcome, oldest first."""
    return observations_of(ws.kb, ws.resolve(outcome_id), ODI)
