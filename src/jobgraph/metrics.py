"""Use cases for job metrics: map contacts to jobs with the knowledge base's rules, compute the
panel on an engine, judge it against the metric targets, and save it as dated observations.

The mapping rules are the jobs' ``contact_reasons`` (versioned like every other field). Contacts
with no reason but text classified at import (``jobgraph interactions import --classifier``) take
their predicted job; the rest keep a null job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from jobgraph.domain.entities import Job, Metric, Status
from jobgraph.domain.panel_metrics import TargetStatus, in_metric_unit, target_status
from jobgraph.errors import UserError
from jobgraph.interactions import CONTACTS_DIR, classified_source
from jobgraph.service import Workspace
from jobgraph.store.repository import Observation, add_observations

__all__ = [
    "BY",
    "JOB_PANEL",
    "MetricRun",
    "TargetCheck",
    "compute_metrics",
    "mapping_for",
    "parse_window",
    "reason_volumes",
    "save_metrics",
]

JOB_PANEL = "job_panel"

# --by names and the contact columns they group on
BY: dict[str, str] = {
    "job": "job_id",
    "reason": "reason",
    "persona": "persona_id",
    "channel": "channel",
    "agent": "agent_id",
    "queue": "queue",
    "month": "month",
}


@dataclass(frozen=True)
class TargetCheck:
    """One panel value judged against one metric's target."""

    metric_id: str
    panel_column: str
    group: dict[str, Any]
    value: float | None
    value_in_unit: float | None
    unit: str
    target: float | None
    direction: str
    status: TargetStatus


@dataclass(frozen=True)
class MetricRun:
    """A computed panel: rows (group columns named as ``by``, then the panel columns), the
    settings it was computed with and the target checks."""

    panel: pd.DataFrame
    by: tuple[str, ...]
    window_days: int
    data_end: datetime | None
    as_of: datetime | None
    engine: str
    chain: str
    targets: list[TargetCheck] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """The panel as JSON-ready rows: NaN becomes null."""
        records = self.panel.to_dict(orient="records")
        return [{k: _plain(v) for k, v in r.items()} for r in records]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if value is pd.NA:
        return None
    return value


# "7d", "7 days", "7" (days), "2w" (weeks)
_WINDOW = re.compile(r"^\s*(\d+)\s*(d|day|days|w|week|weeks)?\s*$", re.IGNORECASE)


def parse_window(text: str | int) -> int:
    """The repeat/episode window W in whole days from ``7d``, ``7``, ``2w``."""
    if isinstance(text, int):
        days = text
    else:
        m = _WINDOW.match(text)
        if not m:
            raise UserError(f"--window {text!r}: give whole days or weeks, e.g. 7d or 2w")
        days = int(m.group(1)) * (7 if (m.group(2) or "d").lower().startswith("w") else 1)
    if days < 1:
        raise UserError(f"--window must be at least 1 day, not {days}")
    return days


def mapping_for(ws: Workspace) -> dict[str, str]:
    """Contact reason -> job id, from the live jobs' ``contact_reasons``.

    A reason claimed by two live jobs is an error (lint code ``reason-mapped-twice``), so the
    panel never counts a contact twice.
    """
    mapping: dict[str, str] = {}
    for entity in ws.entities().values():
        if not isinstance(entity, Job) or entity.status is Status.RETIRED:
            continue
        for reason in entity.contact_reasons:
            other = mapping.get(reason)
            if other is not None and other != entity.id:
                raise UserError(
                    f"contact reason {reason!r} is mapped to both {other} and {entity.id}; "
                    "keep it on one job (jobgraph validate shows reason-mapped-twice)"
                )
            mapping[reason] = entity.id
    return mapping


def _source(ws: Workspace) -> str:
    folder = ws.root / CONTACTS_DIR
    if not any(folder.glob("month=*/part-*.parquet")):
        raise UserError(
            "no contacts in this workspace yet: run `jobgraph interactions import FILE`"
        )
    return str(folder / "month=*" / "part-*.parquet")


def reason_volumes(ws: Workspace) -> pd.DataFrame:
    """Every contact reason with its volume, share, job and how it got it, largest first.

    ``mapped_by`` is ``rule`` when a job's ``contact_reasons`` claims the reason,
    ``classifier`` for contacts whose text the import classified to a job (counted under their
    reason, usually none), and null for contacts with no job yet. Contacts without a reason are
    the rows with a null reason."""
    from jobgraph.analytics.panel import connect, mapped_contacts

    mapping = mapping_for(ws)
    backend = connect("duckdb")
    t = mapped_contacts(backend, _source(ws), mapping, classified_source(ws))
    result = t.group_by(["reason", "job_id"]).aggregate(contacts=t.count()).to_pyarrow().to_pandas()
    result = result.astype({"reason": "object", "job_id": "object"})
    result = result.where(result.notna(), None)
    # a mapped reason always takes its rule's job; any other job came from the classifier
    result["mapped_by"] = [
        "rule" if reason in mapping else "classifier" if job is not None else None
        for reason, job in zip(result["reason"], result["job_id"], strict=True)
    ]
    total = int(result["contacts"].sum())
    result["share"] = result["contacts"] / total if total else 0.0
    result = result.sort_values(
        ["contacts", "reason", "job_id"], ascending=[False, True, True], kind="stable"
    )
    return result[["reason", "contacts", "share", "job_id", "mapped_by"]].reset_index(drop=True)


def _as_of(value: date | datetime | str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise UserError(f"--as-of {value!r}: give a date or time, e.g. 2026-03-31") from None
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and len(value.strip()) == 10
    ):
        # a date means the end of that day
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    result: datetime = ts.to_pydatetime()
    return result


def compute_metrics(
    ws: Workspace,
    *,
    by: Sequence[str] = ("job",),
    window_days: int | str = 7,
    as_of: date | datetime | str | None = None,
    engine: str = "duckdb",
    short_abandon_seconds: float | None = None,
    spark_master: str | None = None,
    step: Callable[[str], None] | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> MetricRun:
    """The job metric panel of the workspace's contacts, grouped by ``by`` (names in ``BY``).

    ``step(stage)`` hears each stage; ``progress(stage, done, total)`` the contacts the engine
    has followed so far, where it can tell (DuckDB).

    Contacts are mapped to jobs by the knowledge base's rules. With ``by`` naming ``reason``
    and not ``job``, "the same job" for repeats and episodes is the same reason, so the panel
    works before any mapping exists.
    """
    from jobgraph.analytics.panel import compute_panel, connect, mapped_contacts

    names = list(dict.fromkeys(by)) or ["job"]
    unknown = [b for b in names if b not in BY]
    if unknown:
        raise UserError(f"--by {', '.join(unknown)}: choose from {', '.join(BY)}")
    days = parse_window(window_days)
    end = _as_of(as_of)
    chain = "reason" if "reason" in names and "job" not in names else "job_id"
    say = step or (lambda _: None)
    say("mapping contacts to jobs")
    mapping = mapping_for(ws)
    source = _source(ws)
    say(f"starting {engine}")
    backend = connect(engine, spark_master=spark_master)
    try:
        # the data end, read once from the stored contacts (not through the mapping join)
        data_end = end
        if data_end is None:
            data_end = backend.read_parquet(source).started_at.max().to_pyarrow().as_py()
        say("computing the panel")
        panel = compute_panel(
            mapped_contacts(backend, source, mapping, classified_source(ws)),
            backend=backend,
            window_days=days,
            as_of=data_end,
            group_by=[BY[b] for b in names],
            chain_by=chain,
            short_abandon_seconds=short_abandon_seconds,
            progress=progress,
        )
    finally:
        if engine == "spark":
            backend._session.stop()
    panel = panel.rename(columns={BY[b]: b for b in names})
    run = MetricRun(panel, tuple(names), days, data_end, end, engine, chain)
    say("checking targets")
    run.targets.extend(_targets(ws, run))
    return run


def _targets(ws: Workspace, run: MetricRun) -> list[TargetCheck]:
    checks: list[TargetCheck] = []
    metrics = [
        e
        for e in ws.entities().values()
        if isinstance(e, Metric) and e.panel_column and e.status is not Status.RETIRED
    ]
    for row in run.rows():
        group = {b: row[b] for b in run.by}
        for metric in sorted(metrics, key=lambda m: m.id):
            assert metric.panel_column is not None
            if "job" in run.by and metric.jobs and group["job"] not in metric.jobs:
                continue
            value = row.get(metric.panel_column)
            checks.append(
                TargetCheck(
                    metric_id=metric.id,
                    panel_column=metric.panel_column,
                    group=group,
                    value=value,
                    value_in_unit=None if value is None else in_metric_unit(value, metric),
                    unit=metric.unit,
                    target=metric.target,
                    direction=str(metric.direction),
                    status=target_status(value, metric),
                )
            )
    return checks


def save_metrics(ws: Workspace, run: MetricRun, *, author: str | None = None) -> int:
    """Save each job's panel row as a dated observation (``job_panel``) on the job; all or
    nothing. Saving the same date and grouping again replaces the earlier values."""
    if "job" not in run.by:
        raise UserError("--save stores the panel on jobs: group by job (--by job ...)")
    known = ws.entities()
    observed_on = (run.data_end or ws.clock()).date()
    observations = []
    for row in run.rows():
        job = row["job"]
        if job is None or job not in known:
            continue
        others = [b for b in run.by if b != "job"]
        segment = ",".join(f"{b}={row[b]}" for b in others) or "all"
        values = {k: v for k, v in row.items() if k not in run.by}
        values.update({"window_days": run.window_days, "engine": run.engine})
        observations.append(
            Observation(
                entity_id=job,
                kind=JOB_PANEL,
                observed_on=observed_on,
                segment=segment[:200],
                values=values,
                source=f"contacts as of {observed_on.isoformat()}",
            )
        )
    if not observations:
        raise UserError("no mapped job in the panel to save: map contact reasons to jobs first")
    return add_observations(ws.kb, observations, ws.actor(author), ws.clock())
