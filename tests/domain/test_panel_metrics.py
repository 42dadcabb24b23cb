from __future__ import annotations

from typing import Any

import pytest

from jobgraph.analytics.job_metrics import PANEL_COLUMNS
from jobgraph.domain.entities import Metric
from jobgraph.domain.panel_metrics import PANEL_METRICS, TargetStatus, target_status


def metric(**overrides: Any) -> Metric:
    data: dict[str, Any] = {
        "id": "metric.m",
        "title": "M",
        "owner": "alice",
        "measures": "something",
        "unit": "percent",
        "direction": "decrease",
        "target": 25.0,
        "panel_column": "repeat_rate",
    }
    data.update(overrides)
    return Metric.model_validate(data)


def test_every_panel_metric_is_a_panel_column() -> None:
    assert set(PANEL_METRICS) <= set(PANEL_COLUMNS)


@pytest.mark.parametrize(
    ("value", "overrides", "status"),
    [
        (0.25, {}, TargetStatus.ON),  # 25 % against "at most 25 %": exactly on target
        (0.2501, {}, TargetStatus.OFF),
        (0.30, {"direction": "increase"}, TargetStatus.ON),
        (0.30, {"unit": "share", "target": 0.25}, TargetStatus.OFF),  # not in percent
        (2.1, {"panel_column": "ces_mean", "unit": "score 1-7", "target": 2.0}, TargetStatus.OFF),
        (2.0, {"panel_column": "ces_mean", "unit": "score 1-7", "target": 2.0}, TargetStatus.ON),
        (0.26, {"direction": "maintain"}, TargetStatus.ON),  # within 5 % of 25
        (0.27, {"direction": "maintain"}, TargetStatus.OFF),
        (0.1, {"target": None}, TargetStatus.NO_TARGET),
        (None, {}, TargetStatus.NO_DATA),
        (float("nan"), {}, TargetStatus.NO_DATA),
    ],
)
def test_target_status(
    value: float | None, overrides: dict[str, Any], status: TargetStatus
) -> None:
    assert target_status(value, metric(**overrides)) is status
