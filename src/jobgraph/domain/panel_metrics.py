"""The job-panel metrics a metric entity can be computed as, and how a value meets a target.

The panel itself is computed in ``jobgraph.analytics`` (see ``docs/metrics.md``); the domain
only knows the names and units, so the linter can check ``panel_column`` and the service can
judge a value against a metric's target without importing an engine.
"""

from __future__ import annotations

from enum import StrEnum

from jobgraph.domain.entities import Direction, Metric

__all__ = ["PANEL_METRICS", "PanelUnit", "TargetStatus", "in_metric_unit", "target_status"]


class PanelUnit(StrEnum):
    SHARE = "share"  # a fraction 0..1 (shown in percent)
    SECONDS = "seconds"
    SCORE = "score"  # on the survey's own scale (CES mean, NPS points)
    RATIO = "ratio"  # contacts per episode


PANEL_METRICS: dict[str, PanelUnit] = {
    "repeat_rate": PanelUnit.SHARE,
    "fcr": PanelUnit.SHARE,
    "abandonment_rate": PanelUnit.SHARE,
    "wait_mean_s": PanelUnit.SECONDS,
    "wait_p50_s": PanelUnit.SECONDS,
    "wait_p90_s": PanelUnit.SECONDS,
    "handle_mean_s": PanelUnit.SECONDS,
    "handle_p90_s": PanelUnit.SECONDS,
    "handle_std_s": PanelUnit.SECONDS,
    "escalation_rate": PanelUnit.SHARE,
    "transfer_rate": PanelUnit.SHARE,
    "contacts_per_episode": PanelUnit.RATIO,
    "channel_hopping_rate": PanelUnit.SHARE,
    "job_completion_rate": PanelUnit.SHARE,
    "ttr_mean_s": PanelUnit.SECONDS,
    "ttr_p90_s": PanelUnit.SECONDS,
    "ces_mean": PanelUnit.SCORE,
    "csat_top2": PanelUnit.SHARE,
    "nps": PanelUnit.SCORE,
    "goal_achieved_rate": PanelUnit.SHARE,
}


class TargetStatus(StrEnum):
    ON = "on target"
    OFF = "off target"
    NO_TARGET = "no target"
    NO_DATA = "no data"


def in_metric_unit(value: float, metric: Metric) -> float:
    """A panel value in the metric's unit: shares become percent when the metric is in percent
    (``unit: percent`` or ``%``), so a target of 85 means 85 %."""
    unit = metric.unit.lower()
    if (
        metric.panel_column is not None
        and PANEL_METRICS.get(metric.panel_column) is PanelUnit.SHARE
        and ("percent" in unit or "%" in unit)
    ):
        return value * 100.0
    return value


def target_status(value: float | None, metric: Metric) -> TargetStatus:
    """Whether ``value`` (a panel value) meets the metric's target in its direction: at least the
    target for ``increase``, at most for ``decrease``, within 5 % of it for ``maintain``."""
    if value is None or value != value:  # NaN: no data in the group
        return TargetStatus.NO_DATA
    if metric.target is None:
        return TargetStatus.NO_TARGET
    v = in_metric_unit(value, metric)
    match metric.direction:
        case Direction.INCREASE:
            ok = v >= metric.target
        case Direction.DECREASE:
            ok = v <= metric.target
        case Direction.MAINTAIN:
            ok = abs(v - metric.target) <= 0.05 * abs(metric.target)
    return TargetStatus.ON if ok else TargetStatus.OFF
