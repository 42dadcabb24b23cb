"""Read use cases the web pages need, built on the workspace's public methods: what needs
attention, an entity's neighbourhood and its findings, and the saved observations the
dashboards draw."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from jobgraph.domain.entities import (
    Entity,
    Evidence,
    Job,
    Metric,
    Persona,
    Scenario,
    Status,
    references,
)
from jobgraph.domain.findings import Finding, Level, sort_findings
from jobgraph.domain.ids import Kind, kind_of
from jobgraph.domain.lint import lint
from jobgraph.domain.panel_metrics import TargetStatus, in_metric_unit, target_status
from jobgraph.metrics import JOB_PANEL
from jobgraph.service import Workspace
from jobgraph.store.repository import Observation, Record, observations_of
from jobgraph.store.repository import fingerprint as store_fingerprint
from jobgraph.store.repository import observations_by_entity as store_observations_by_entity
from jobgraph.surveys import ODI

# the order relationships are shown in on an entity's page
KIND_ORDER = (
    Kind.JOB,
    Kind.OUTCOME,
    Kind.PERSONA,
    Kind.SCENARIO,
    Kind.STACK,
    Kind.EVIDENCE,
    Kind.METRIC,
)


def observations_by_entity(ws: Workspace, kind: str) -> dict[str, list[Observation]]:
    """Every saved observation of ``kind``, by entity, oldest first: one query, where asking
    entity by entity would cost one query per job."""
    return store_observations_by_entity(ws.kb, kind)


def fingerprint(ws: Workspace) -> tuple[int, int]:
    """Changes with every write: the number of entities and the sum of their versions (every
    create adds an entity, every other change adds one to a version)."""
    return store_fingerprint(ws.kb)


@dataclass(frozen=True, slots=True)
class Attention:
    """The home page: the backlog and what needs someone's attention."""

    in_review: list[Record]
    drafts: list[Record]
    overdue: list[Record]
    stale_evidence: list[Record]
    failing: list[tuple[str, list[Finding]]]
    counts: dict[Kind, dict[Status, int]]
    errors: int
    warnings: int


_attention_cache: dict[int, tuple[tuple[object, ...], Attention]] = {}


def attention(ws: Workspace, *, limit: int = 50) -> Attention:
    """Entities in review and in draft, reviews overdue, evidence older than the review
    cadence, and entities with linter findings (errors first).

    Linting the whole knowledge base takes a while at thousands of entities, so the answer
    is kept until the next write (or the next day)."""
    key = (str(ws.root), fingerprint(ws), ws.today(), limit)
    cached = _attention_cache.get(id(ws.kb))
    if cached is not None and cached[0] == key:
        return cached[1]
    found = _attention(ws, limit=limit)
    if len(_attention_cache) > 16:
        _attention_cache.clear()
    _attention_cache[id(ws.kb)] = (key, found)
    return found


def _attention(ws: Workspace, *, limit: int) -> Attention:
    records = ws.list()
    today = ws.today()
    cadence = timedelta(days=ws.config.governance.review_cadence_days)
    counts: dict[Kind, dict[Status, int]] = {k: dict.fromkeys(Status, 0) for k in Kind}
    for r in records:
        counts[r.entity.kind][r.entity.status] += 1
    live = [r for r in records if r.entity.status is not Status.RETIRED]
    in_review = [r for r in live if r.entity.status is Status.IN_REVIEW]
    drafts = [r for r in live if r.entity.status is Status.DRAFT]
    overdue = sorted(
        (r for r in live if r.entity.review_due is not None and r.entity.review_due < today),
        key=lambda r: (r.entity.review_due or today, r.id),
    )
    stale = sorted(
        (
            r
            for r in live
            if isinstance(r.entity, Evidence) and r.entity.collected_on < today - cadence
        ),
        key=lambda r: (r.entity.collected_on if isinstance(r.entity, Evidence) else today, r.id),
    )
    findings = lint({r.id: r.entity for r in records}, today=today)
    by_entity: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_entity[f.entity_id or ""].append(f)
    failing = sorted(
        ((i, sort_findings(fs)) for i, fs in by_entity.items() if i),
        key=lambda item: (not any(f.level is Level.ERROR for f in item[1]), item[0]),
    )
    return Attention(
        in_review=in_review[:limit],
        drafts=sorted(drafts, key=lambda r: r.updated_at, reverse=True)[:limit],
        overdue=overdue[:limit],
        stale_evidence=stale[:limit],
        failing=failing[:limit],
        counts=counts,
        errors=sum(f.level is Level.ERROR for f in findings),
        warnings=sum(f.level is Level.WARNING for f in findings),
    )


@dataclass(frozen=True, slots=True)
class Related:
    """One linked entity: which field links them and which way."""

    id: str
    title: str
    status: Status | None
    field: str
    outgoing: bool


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    record: Record
    related: dict[Kind, list[Related]]
    findings: list[Finding]
    panels: list[Observation] = field(default_factory=list)
    targets: list[TargetRow] = field(default_factory=list)


def _around(ws: Workspace, entity: Entity) -> tuple[dict[str, Record], list[tuple[str, str]]]:
    incoming = ws.links_to(entity.id)
    ids = {t for _, t, _ in references(entity)} | {s for s, _ in incoming}
    found = ws.kb.get_many(ids)
    # the linter judges a persona's jobs through scenarios' personas too
    extra = {
        e.entity.persona for e in found.values() if isinstance(e.entity, Scenario)
    } - found.keys()
    found.update(ws.kb.get_many(extra))
    return found, incoming


def findings_for(ws: Workspace, entity: Entity) -> list[Finding]:
    """The linter's findings about ``entity``, judged with everything it links to or is
    linked from (what the rules about one entity look at)."""
    found, _ = _around(ws, entity)
    view = {i: r.entity for i, r in found.items()}
    if entity.kind is Kind.STACK:
        view.update({r.id: r.entity for r in ws.list(Kind.STACK)})
    view[entity.id] = entity
    return sort_findings(
        [f for f in lint(view, today=ws.today()) if f.entity_id == entity.id],
    )


def neighbourhood(ws: Workspace, record: Record) -> Neighbourhood:
    """The entity with everything it refers to and everything that refers to it, by kind."""
    entity = record.entity
    found, incoming = _around(ws, entity)
    related: dict[Kind, list[Related]] = defaultdict(list)

    def add(target: str, field_name: str, outgoing: bool) -> None:
        other = found.get(target)
        related[kind_of(target)].append(
            Related(
                target,
                other.entity.title if other else target,
                other.entity.status if other else None,
                field_name,
                outgoing,
            )
        )

    for field_name, target, _ in references(entity):
        add(target, field_name, True)
    for source, field_name in incoming:
        add(source, field_name, False)
    ordered = {k: sorted(related[k], key=lambda r: (r.title.lower(), r.id)) for k in KIND_ORDER}
    panels: list[Observation] = []
    targets: list[TargetRow] = []
    if isinstance(entity, Job):
        panels = observations_of(ws.kb, entity.id, JOB_PANEL)
        metric_records = ws.kb.get_many(r.id for r in ordered[Kind.METRIC])
        targets = target_rows(
            [m.entity for m in metric_records.values() if isinstance(m.entity, Metric)],
            {entity.id: panels},
            {entity.id: entity.title},
        )
    return Neighbourhood(
        record,
        {k: v for k, v in ordered.items() if v},
        findings_for(ws, entity),
        panels,
        targets,
    )


# --- dashboards ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One metric of one job: its latest value against the target, and the one before."""

    metric_id: str
    metric_title: str
    job_id: str
    job_title: str
    unit: str
    direction: str
    target: float | None
    observed_on: date | None
    value: float | None
    previous: float | None
    status: TargetStatus
    history: list[tuple[date, float]]

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def _panel_series(panels: list[Observation], column: str) -> list[tuple[date, float]]:
    """The column's value on each date, segment ``all`` only (the job as a whole)."""
    series: dict[date, float] = {}
    for o in panels:
        value = o.values.get(column)
        if o.segment == "all" and isinstance(value, int | float):
            series[o.observed_on] = float(value)
    return sorted(series.items())


def target_rows(
    metrics: list[Metric],
    panels: dict[str, list[Observation]],
    titles: dict[str, str],
) -> list[TargetRow]:
    rows: list[TargetRow] = []
    for metric in sorted(metrics, key=lambda m: m.id):
        if not metric.panel_column or metric.status is Status.RETIRED:
            continue
        jobs = metric.jobs or sorted(panels)
        for job_id in jobs:
            if job_id not in panels:
                continue
            raw = _panel_series(panels[job_id], metric.panel_column)
            history = [(d, in_metric_unit(v, metric)) for d, v in raw]
            latest = raw[-1][1] if raw else None
            rows.append(
                TargetRow(
                    metric_id=metric.id,
                    metric_title=metric.title,
                    job_id=job_id,
                    job_title=titles.get(job_id, job_id),
                    unit=metric.unit,
                    direction=metric.direction.value,
                    target=metric.target,
                    observed_on=raw[-1][0] if raw else None,
                    value=history[-1][1] if history else None,
                    previous=history[-2][1] if len(history) > 1 else None,
                    status=target_status(latest, metric),
                    history=history,
                )
            )
    return rows


def metric_panel(ws: Workspace) -> list[TargetRow]:
    """Every metric with a panel column, for every job it measures that has saved panels."""
    saved = observations_by_entity(ws, JOB_PANEL)
    jobs = {
        i: r.entity
        for i, r in ws.kb.get_many(saved).items()
        if r.entity.status is not Status.RETIRED
    }
    panels = {j: obs for j, obs in saved.items() if j in jobs}
    metrics = [r.entity for r in ws.list(Kind.METRIC) if isinstance(r.entity, Metric)]
    return target_rows(metrics, panels, {j: e.title for j, e in jobs.items()})


def odi_scores(ws: Workspace) -> pd.DataFrame:
    """The latest saved ODI scores of every outcome, every segment (``ScoreTable.frame()``
    columns plus ``label``, the outcome's title)."""
    rows: list[dict[str, Any]] = []
    for r in ws.list(Kind.OUTCOME):
        if r.entity.status is Status.RETIRED:
            continue
        latest: dict[str, Observation] = {}
        for o in observations_of(ws.kb, r.id, ODI):
            latest[o.segment] = o  # oldest first, so the newest date wins
        for o in latest.values():
            rows.append(
                {
                    **o.values,
                    "outcome_id": r.id,
                    "segment": o.segment,
                    "label": r.entity.title,
                    "observed_on": o.observed_on,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class PersonaJob:
    """How well one job a persona pursues gets done (from the job's saved panel)."""

    persona_id: str
    persona_title: str
    job_id: str
    job_title: str
    scenarios: list[str]
    segment: str
    observed_on: date | None
    completion: float | None
    goal_achieved: float | None
    contacts: int | None


def persona_success(ws: Workspace) -> list[PersonaJob]:
    """For every persona, each job it pursues (its ``jobs`` and its scenarios' jobs) with the
    job completion and goal-achieved rates of the latest saved panel: the persona's own
    segment when one was saved (``persona=...``), else the job as a whole (``all``)."""
    scenarios: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in ws.list(Kind.SCENARIO):
        e = r.entity
        if isinstance(e, Scenario) and e.status is not Status.RETIRED:
            scenarios[(e.persona, e.job)].append(e.id)
    pairs: set[tuple[str, str]] = set(scenarios)
    entities: dict[str, Entity] = {r.id: r.entity for r in ws.list(Kind.PERSONA)}
    for e in list(entities.values()):
        if isinstance(e, Persona) and e.status is not Status.RETIRED:
            pairs.update((e.id, j) for j in e.jobs)
    entities.update({i: r.entity for i, r in ws.kb.get_many(j for _, j in pairs).items()})
    panels = observations_by_entity(ws, JOB_PANEL)
    out: list[PersonaJob] = []
    for persona_id, job_id in sorted(pairs):
        persona, job = entities.get(persona_id), entities.get(job_id)
        if persona is None or job is None or persona.status is Status.RETIRED:
            continue
        obs = panels.get(job_id, [])
        own = [o for o in obs if o.segment == f"persona={persona_id}"]
        chosen = own or [o for o in obs if o.segment == "all"]
        latest = chosen[-1] if chosen else None
        values = latest.values if latest else {}

        def number(key: str, values: dict[str, Any] = values) -> float | None:
            v = values.get(key)
            return float(v) if isinstance(v, int | float) else None

        contacts = values.get("contacts")
        out.append(
            PersonaJob(
                persona_id=persona_id,
                persona_title=persona.title,
                job_id=job_id,
                job_title=job.title,
                scenarios=sorted(scenarios.get((persona_id, job_id), [])),
                segment=latest.segment if latest else "",
                observed_on=latest.observed_on if latest else None,
                completion=number("job_completion_rate"),
                goal_achieved=number("goal_achieved_rate"),
                contacts=int(contacts) if isinstance(contacts, int | float) else None,
            )
        )
    return out
