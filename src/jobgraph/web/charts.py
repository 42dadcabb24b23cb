"""The dashboards' charts: Altair (Vega-Lite) specs rendered on the server to inline SVG with
vl-convert, so they show without JavaScript and work offline.

Every SVG carries a ``<title>`` and ``<desc>`` (and ``role="img"`` with ``aria-labelledby``),
so screen readers announce what the chart shows; the pages also give the numbers as a table.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import altair as alt
import pandas as pd
from markupsafe import Markup, escape

from jobgraph.analytics.landscape import chart_to_svg, landscape_chart
from jobgraph.web.queries import PersonaJob, TargetRow

FONT = "Liberation Sans, Helvetica, Arial, sans-serif"
# colour-blind safe (Okabe-Ito)
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

# the opening tag of the SVG vl-convert writes: <svg xmlns="..." ... height="520">
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")
_ROLE = re.compile(r'\s(role|aria-[a-z]+)="[^"]*"')


CACHE_SIZE = 64
_cache: OrderedDict[str, Markup] = OrderedDict()
_cache_lock = threading.Lock()


def cached(key: object, build: Callable[[], Markup]) -> Markup:
    """The SVG for ``key`` (everything the chart is drawn from), drawn once: rendering takes
    a few hundred milliseconds and the data changes far less often than pages are viewed."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()
    with _cache_lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]
    svg = build()
    with _cache_lock:
        _cache[digest] = svg
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return svg


def accessible_svg(svg: str, title: str, description: str, chart_id: str) -> Markup:
    """The SVG with an accessible name and description (escaped: they may hold user text)."""
    m = _SVG_OPEN.search(svg)
    if m is None:
        raise ValueError("vl-convert returned no <svg> element")
    tag = _ROLE.sub("", m.group(0))
    tag = tag[:-1] + (
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="chart-svg" data-chart="{chart_id}">'
    )
    head = (
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    # the SVG comes from vl-convert, which escapes the text it draws; title and desc are
    # escaped above
    return Markup(svg[: m.start()] + tag + head + svg[m.end() :])


def landscape_svg(scores: pd.DataFrame, segment: str) -> Markup:
    key = ("landscape", scores.to_json(orient="split", date_format="iso"), segment)
    return cached(key, lambda: _landscape_svg(scores, segment))


def _landscape_svg(scores: pd.DataFrame, segment: str) -> Markup:
    chart = landscape_chart(
        scores, segment=segment, title="Opportunity landscape", interactive_filter=False
    )
    shown = scores[scores["segment"] == segment]
    top = shown.sort_values("opportunity", ascending=False).head(3)
    best = "; ".join(f"{r.label} ({r.opportunity:.1f})" for r in top.itertuples())
    return accessible_svg(
        chart_to_svg(chart),
        f"Opportunity landscape, segment {segment}",
        f"{len(shown)} outcomes placed by importance (x axis, 0 to 10) and satisfaction "
        f"(y axis, 0 to 10). Highest opportunity: {best or 'none'}.",
        "landscape",
    )


def _base(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    styled: alt.TopLevelMixin = chart.configure(font=FONT, background="white").configure_axis(
        labelFontSize=12, titleFontSize=12, labelLimit=260
    )
    return styled


def metric_svg(metric_title: str, unit: str, rows: Sequence[TargetRow], chart_id: str) -> Markup:
    """One metric across its jobs: the latest value as a bar, the target as a tick, and each
    earlier saved value as a diamond (the trend)."""
    key = ("metric", metric_title, unit, repr(list(rows)), chart_id)
    return cached(key, lambda: _metric_svg(metric_title, unit, rows, chart_id))


def _metric_svg(metric_title: str, unit: str, rows: Sequence[TargetRow], chart_id: str) -> Markup:
    latest = pd.DataFrame(
        [
            {"job": r.job_title, "value": r.value, "status": str(r.status)}
            for r in rows
            if r.value is not None
        ]
    )
    if latest.empty:
        raise ValueError("no values to draw")
    earlier = pd.DataFrame(
        [
            {"job": r.job_title, "value": v, "date": d.isoformat()}
            for r in rows
            for d, v in r.history[:-1]
        ],
        columns=["job", "value", "date"],
    )
    targets = pd.DataFrame(
        [{"job": r.job_title, "target": r.target} for r in rows if r.target is not None],
        columns=["job", "target"],
    )
    y = alt.Y("job:N", title=None, sort=None)
    x_title = f"{metric_title} ({unit})"
    bars = (
        alt.Chart(latest)
        .mark_bar(size=16)
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=y,
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=["on target", "off target", "no target", "no data"],
                    range=["#009E73", "#D55E00", "#7a8591", "#c5cbd1"],
                ),
                legend=alt.Legend(title="Against target", orient="bottom"),
            ),
            tooltip=["job", "value", "status"],
        )
    )
    layers: list[alt.Chart] = [bars]
    if not earlier.empty:
        layers.append(
            alt.Chart(earlier)
            .mark_point(shape="diamond", filled=True, color="#333333", opacity=0.8, size=70)
            .encode(x="value:Q", y=y, tooltip=["job", "date", "value"])
        )
    if not targets.empty:
        layers.append(
            alt.Chart(targets)
            .mark_tick(color="#000000", thickness=3, size=26)
            .encode(x="target:Q", y=y, tooltip=["job", "target"])
        )
    chart = alt.layer(*layers).properties(width=520, height=max(60, 30 * len(latest)))
    on = sum(1 for r in rows if str(r.status) == "on target")
    off = sum(1 for r in rows if str(r.status) == "off target")
    return accessible_svg(
        chart_to_svg(_base(chart)),
        f"{metric_title} by job",
        f"Latest {metric_title} in {unit} for {len(latest)} jobs as bars; black ticks mark "
        f"targets, grey diamonds earlier values. {on} on target, {off} off target.",
        chart_id,
    )


def persona_svg(rows: Sequence[PersonaJob]) -> Markup:
    """Job completion rate of each job a persona pursues, one row of bars per persona."""
    return cached(("personas", repr(list(rows))), lambda: _persona_svg(rows))


def _persona_svg(rows: Sequence[PersonaJob]) -> Markup:
    frame = pd.DataFrame(
        [
            {
                "persona": r.persona_title,
                "job": r.job_title,
                "completion": r.completion,
                "scenario": "with a scenario" if r.scenarios else "job only",
            }
            for r in rows
            if r.completion is not None
        ]
    )
    if frame.empty:
        raise ValueError("no values to draw")
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "completion:Q",
                title="Job completion rate",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("job:N", title=None),
            row=alt.Row(
                "persona:N",
                title=None,
                header=alt.Header(
                    labelAngle=0, labelAlign="left", labelFontWeight="bold", labelFontSize=13
                ),
            ),
            color=alt.Color(
                "scenario:N",
                scale=alt.Scale(
                    domain=["with a scenario", "job only"], range=["#0072B2", "#5b8fc7"]
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["persona", "job", alt.Tooltip("completion:Q", format=".0%")],
        )
        .properties(width=420)
        .resolve_scale(y="independent")
    )
    personas = frame["persona"].nunique()
    return accessible_svg(
        chart_to_svg(_base(chart)),
        "Persona scenario success",
        f"Job completion rate (0 to 100 percent) of {len(frame)} jobs pursued by {personas} "
        "personas, grouped by persona; darker bars are jobs with a written scenario.",
        "personas",
    )
