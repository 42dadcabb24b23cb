"""The opportunity landscape: outcomes on importance x satisfaction, over the ODI zones.

Ulwick's outcome-driven innovation plots each desired outcome at (importance, satisfaction), both
0-10. Because opportunity = importance + max(importance - satisfaction, 0), the lines of equal
opportunity below the diagonal are ``satisfaction = 2 * importance - c``; Strategyn draws c = 10
(under-served from there on) and c = 15 (extreme). Above the diagonal satisfaction exceeds
importance and the outcome is over-served. The zones are drawn as exact polygons, so the band of a
point and the shading under it always agree.

The chart is an Altair spec: the web app embeds it (with a segment menu when the scores hold more
than one segment), and :func:`chart_to_svg` / :func:`chart_to_png` render it locally through
vl-convert, with no network access. Values are plotted as scored; only tooltips round them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import altair as alt
import pandas as pd
import vl_convert as vlc

from jobgraph.analytics.odi import ALL, opportunity
from jobgraph.errors import UserError

__all__ = [
    "LandscapeError",
    "Zone",
    "chart_to_png",
    "chart_to_svg",
    "chart_to_vega_lite",
    "landscape_chart",
    "save_chart",
    "zone",
]

SCALE_MAX: Final = 10.0
UNDER_SERVED_AT: Final = 10.0
EXTREME_AT: Final = 15.0
WIDTH: Final = 640
HEIGHT: Final = 480
SEGMENT_PARAM: Final = "segment_shown"
REQUIRED_COLUMNS: Final = (
    "outcome_id",
    "segment",
    "n",
    "importance",
    "satisfaction",
    "opportunity",
    "opportunity_ci_low",
    "opportunity_ci_high",
    "band",
    "overserved",
)


class LandscapeError(UserError, ValueError):
    """The scores cannot be drawn as an opportunity landscape."""


class Zone(StrEnum):
    UNDER_SERVED = "under-served"
    APPROPRIATELY_SERVED = "appropriately served"
    OVER_SERVED = "over-served"


def zone(importance: float, satisfaction: float) -> Zone:
    """The zone a point falls in; the boundary ``opportunity == 10`` counts as under-served."""
    for name, value in (("importance", importance), ("satisfaction", satisfaction)):
        if not 0.0 <= value <= SCALE_MAX:
            raise LandscapeError(f"{name} {value!r} is outside the 0-10 scale")
    if float(opportunity(importance, satisfaction)) >= UNDER_SERVED_AT:
        return Zone.UNDER_SERVED
    if satisfaction > importance:
        return Zone.OVER_SERVED
    return Zone.APPROPRIATELY_SERVED


@dataclass(frozen=True, slots=True)
class _Band:
    key: str
    title: str
    colour: str
    size: float


# Lightness sets the bands apart (relative luminance 0.03, 0.13, 0.53, 0.31), so they stay distinct
# in greyscale and under every colour-vision deficiency; the dot size repeats the order, and a dark
# rim keeps even the light dots visible on the pale zones.
BANDS: Final = (
    _Band("extreme", "Extreme (> 15)", "#67000d", 300.0),
    _Band("high", "High (12-15)", "#c4291c", 200.0),
    _Band("worth considering", "Worth considering (10-12)", "#f7b267", 130.0),
    _Band("low", "Low (< 10)", "#8f9aa6", 70.0),
)
_OTHER_BAND = _Band("", "", "#9aa4ae", 70.0)

_ZONE_FILLS: Final = {
    "over": "#dbe9f6",
    "appropriate": "#f3f2ee",
    "under": "#fbd9d0",
    "extreme": "#f4aa98",
}
_LINE_COLOURS: Final = {"diagonal": "#58708a", "opp10": "#b5402a", "opp15": "#7a1a0e"}
_FONT: Final = "Liberation Sans, Helvetica, Arial, sans-serif"
_LABEL_SIZE: Final = 11
_LINE_HEIGHT: Final = 13
_WRAP_AT: Final = 20
_LABEL_LIMIT: Final = 150
_CHAR_WIDTH: Final = 5.8  # a little above the mean advance of an 11 px sans glyph: errs roomy
_PX_X: Final = WIDTH / SCALE_MAX
_PX_Y: Final = HEIGHT / SCALE_MAX


def landscape_chart(
    scores: pd.DataFrame,
    *,
    segment: str | None = None,
    title: str = "Opportunity landscape",
    interactive_filter: bool = True,
) -> alt.LayerChart:
    """The landscape of ``scores``: one row per outcome and segment, as ``ScoreTable.frame()``.

    With ``segment``, only that segment is drawn. Without it, scores holding several segments get
    a segment menu (``interactive_filter``) that starts on "all" when present. A static render
    shows that starting segment only: each outcome appears once per segment, and drawing every
    segment at once would plot each outcome several times.
    """
    frame = _checked(scores)
    segments = _segment_order(frame["segment"])
    if segment is not None:
        if segment not in segments:
            choices = ", ".join(segments) or "none"
            raise LandscapeError(f"no scores for segment {segment!r}; segments: {choices}")
        segments = [segment]
    shown = segments[0] if segments else ALL
    selector: alt.Parameter | None = None
    if len(segments) > 1 and interactive_filter:
        selector = alt.param(
            name=SEGMENT_PARAM,
            value=shown,
            bind=alt.binding_select(options=segments, name="Segment "),
        )
    else:
        frame = frame[frame["segment"] == shown]
    points = _plot_frame(frame)
    badge = alt.expr(f"'Segment: ' + {SEGMENT_PARAM}") if selector else f"Segment: {shown}"
    corner = (
        alt.Chart(alt.InlineData(values=[{}]))
        .mark_text(
            text=badge,
            align="right",
            baseline="bottom",
            fontSize=12,
            fontWeight="bold",
            color="#333333",
        )
        .encode(x=alt.value(WIDTH), y=alt.value(-6))
    )
    chart = alt.layer(*_zone_layers(), *_point_layers(points, selector), corner).properties(
        width=WIDTH,
        height=HEIGHT,
        title=alt.Title(
            title,
            subtitle="Opportunity = importance + max(importance \u2212 satisfaction, 0)",
            anchor="start",
            fontSize=17,
            subtitleFontSize=12,
            subtitleColor="#555555",
            offset=12,
        ),
        description=(
            f"{title}: {frame['outcome_id'].nunique()} outcomes by importance (x) and "
            "satisfaction (y) over the over-served, appropriately served and under-served zones"
        ),
    )
    if selector is not None:
        chart = chart.add_params(selector)
    styled: alt.LayerChart = chart.configure(font=_FONT, background="white").configure_view(
        stroke="#8a8f96", strokeWidth=1
    )
    return styled


# --- input ------------------------------------------------------------------------------------


def _checked(scores: pd.DataFrame) -> pd.DataFrame:
    """A copy with typed columns; every problem with the input is reported at once."""
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise LandscapeError(
            f"the scores lack column(s) {', '.join(missing)}; a landscape needs "
            f"{', '.join(REQUIRED_COLUMNS)} and optionally label, as ScoreTable.frame() gives"
        )
    frame = scores.copy()
    frame["outcome_id"] = frame["outcome_id"].astype(str)
    frame["segment"] = frame["segment"].astype(str)
    problems: list[str] = []
    for column, high in (
        ("importance", SCALE_MAX),
        ("satisfaction", SCALE_MAX),
        ("opportunity", 2 * SCALE_MAX),
    ):
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        bad = values.isna() | (values < 0) | (values > high)
        if bad.any():
            ids = ", ".join(frame.loc[bad, "outcome_id"].head(5))
            problems.append(f"{column} must be a number from 0 to {high:g} (outcomes {ids})")
        frame[column] = values
    for column in ("n", "opportunity_ci_low", "opportunity_ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    repeated = frame.duplicated(["outcome_id", "segment"])
    if repeated.any():
        pairs = frame.loc[repeated, ["outcome_id", "segment"]].head(5).itertuples(index=False)
        problems.append(
            "one row per outcome and segment, but these repeat: "
            + ", ".join(f"{o} ({s})" for o, s in pairs)
        )
    if problems:
        raise LandscapeError("cannot draw the landscape: " + "; ".join(problems))
    return frame


def _segment_order(values: pd.Series) -> list[str]:
    """ "all" first, then the segments alphabetically: the order of the menu."""
    names = sorted({str(v) for v in values})
    return ([ALL] if ALL in names else []) + [n for n in names if n != ALL]


def _band(value: object) -> _Band:
    """The band named by ``value``, tolerating case, ``_`` and ``-``; unknown names keep theirs."""
    key = " ".join(str(value).lower().replace("_", " ").replace("-", " ").split())
    for band in BANDS:
        if band.key == key:
            return band
    return _Band(str(value), str(value), _OTHER_BAND.colour, _OTHER_BAND.size)


def _wrap(text: str) -> str:
    """Long labels on two lines, broken at the space nearest the middle."""
    if len(text) <= _WRAP_AT or " " not in text:
        return text
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return f"{text[:cut]}\n{text[cut + 1 :]}"


def _one_decimal(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _plot_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """What the marks read: the scores unrounded, texts for tooltips, and label placements."""
    ids = [str(o) for o in frame["outcome_id"]]
    raw = frame["label"].astype("object") if "label" in frame.columns else [None] * len(ids)
    labels = [
        oid if lab is None or pd.isna(lab) or not str(lab).strip() else str(lab).strip()
        for oid, lab in zip(ids, raw, strict=True)
    ]
    bands = [_band(v) for v in frame["band"]]
    imp = [float(v) for v in frame["importance"]]
    sat = [float(v) for v in frame["satisfaction"]]
    low = [float(v) for v in frame["opportunity_ci_low"]]
    high = [float(v) for v in frame["opportunity_ci_high"]]
    out = pd.DataFrame(
        {
            "outcome_id": ids,
            "label": labels,
            "label_text": [_wrap(lab) for lab in labels],
            "segment": [str(s) for s in frame["segment"]],
            "n": [None if math.isnan(v) else int(v) for v in frame["n"]],
            "importance": imp,
            "satisfaction": sat,
            "opportunity": [float(v) for v in frame["opportunity"]],
            "opportunity_ci_low": low,
            "opportunity_ci_high": high,
            "band": [b.title for b in bands],
            "overserved": [bool(v) for v in frame["overserved"]],
            "ci": [
                f"{_one_decimal(a)}\u2013{_one_decimal(b)}" for a, b in zip(low, high, strict=True)
            ],
            "zone": [zone(i, s).value for i, s in zip(imp, sat, strict=True)],
        }
    )
    out["description"] = [
        f"{r.label} ({r.segment}): importance {r.importance:.1f}, satisfaction "
        f"{r.satisfaction:.1f}, opportunity {r.opportunity:.1f}, band {r.band}, {r.zone}"
        for r in out.itertuples()
    ]
    placements: list[_Placement | None] = [None] * len(out)
    obstacles = _caption_boxes()
    for _, group in out.groupby("segment", sort=False):
        ranked = group.sort_values("opportunity", ascending=False, kind="stable")
        rows = [out.index.get_loc(i) for i in ranked.index]
        items = [
            _Item(
                *_pixel(imp[r], sat[r]),
                radius=math.sqrt(bands[r].size / math.pi),
                lines=tuple(out.at[r, "label_text"].split("\n")),
            )
            for r in rows
        ]
        for r, placement in zip(rows, _place_labels(items, obstacles), strict=True):
            placements[r] = placement
    placed = [p for p in placements if p is not None]
    out["label_align"] = [p.align for p in placed]
    out["label_baseline"] = [p.baseline for p in placed]
    out["label_dx"] = [p.dx for p in placed]
    out["label_dy"] = [p.dy - p.lift for p in placed]
    leaders = [_leader(i, s, p) for i, s, p in zip(imp, sat, placed, strict=True)]
    for k, column in enumerate(("leader_x", "leader_y", "leader_x2", "leader_y2")):
        out[column] = [None if lead is None else lead[k] for lead in leaders]
    return out


# --- label placement --------------------------------------------------------------------------
# Vega-Lite has no label collision avoidance, so labels are placed here, per segment. Each label
# takes one of sixteen spots around its point (eight directions, near or, with a leader line,
# farther out), scored by how much it covers other labels, points and the zone captions, whether
# it leaves the plot, and whether it sits nearer another point than its own (the reader would
# pair it with the wrong outcome). The highest opportunities choose first; then each label
# re-chooses given all the others, until none moves.

Box = tuple[float, float, float, float]  # left, top, right, bottom, in pixels

_DIRECTIONS: Final = (  # align, baseline, unit offset
    ("left", "middle", 1.0, 0.0),
    ("right", "middle", -1.0, 0.0),
    ("center", "bottom", 0.0, -1.0),
    ("center", "top", 0.0, 1.0),
    ("left", "bottom", 0.7, -0.7),
    ("left", "top", 0.7, 0.7),
    ("right", "bottom", -0.7, -0.7),
    ("right", "top", -0.7, 0.7),
)
_BLOCK_ABOVE: Final = {"top": 0.0, "middle": 0.5, "bottom": 1.0}  # share of extra lines
_NEAR: Final = 3.0
_FAR: Final = 22.0
_PASSES: Final = 8


@dataclass(frozen=True, slots=True)
class _Item:
    x: float
    y: float
    radius: float
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Placement:
    align: str
    baseline: str
    dx: float
    dy: float
    reach: float  # how far beyond the dot's edge; beyond _NEAR a leader line joins them
    radius: float
    lift: float  # Vega sets a multi-line text's first line by the baseline: lift the block


def _pixel(importance: float, satisfaction: float) -> tuple[float, float]:
    return importance * _PX_X, (SCALE_MAX - satisfaction) * _PX_Y


def _text_box(
    x: float, y: float, lines: Sequence[str], align: str, baseline: str, size: float
) -> Box:
    width = min(max(len(line) for line in lines) * _CHAR_WIDTH * size / _LABEL_SIZE, _LABEL_LIMIT)
    height = len(lines) * size * _LINE_HEIGHT / _LABEL_SIZE
    left = {"left": x, "right": x - width, "center": x - width / 2}[align]
    top = {"top": y, "bottom": y - height, "middle": y - height / 2}[baseline]
    return left, top, left + width, top + height


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Box) -> float:
    area = (box[2] - box[0]) * (box[3] - box[1])
    return area - _overlap(box, (0.0, 0.0, float(WIDTH), float(HEIGHT)))


def _distance(box: Box, x: float, y: float) -> float:
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def _spots(item: _Item) -> list[tuple[_Placement, Box]]:
    out = []
    for reach in (_NEAR, _FAR):
        gap = item.radius + reach
        for align, baseline, ux, uy in _DIRECTIONS:
            dx, dy = round(ux * gap, 1), round(uy * gap, 1)
            box = _text_box(item.x + dx, item.y + dy, item.lines, align, baseline, _LABEL_SIZE)
            lift = (len(item.lines) - 1) * _LINE_HEIGHT * _BLOCK_ABOVE[baseline]
            out.append((_Placement(align, baseline, dx, dy, reach, item.radius, lift), box))
    return out


def _place_labels(items: Sequence[_Item], obstacles: Sequence[Box] = ()) -> list[_Placement]:
    """A placement per item, in order; the first items are the most important."""
    dots = [
        (it.x - it.radius - 2, it.y - it.radius - 2, it.x + it.radius + 2, it.y + it.radius + 2)
        for it in items
    ]
    options = [_spots(it) for it in items]

    def fixed_cost(i: int, rank: int) -> float:
        """The part of a spot's cost that does not depend on where the other labels are."""
        box = options[i][rank][1]
        own = _distance(box, items[i].x, items[i].y)
        others = [_distance(box, it.x, it.y) for j, it in enumerate(items) if j != i]
        return (
            3.0 * sum(_overlap(box, dot) for j, dot in enumerate(dots) if j != i)
            + sum(_overlap(box, obstacle) for obstacle in obstacles)
            + 3.0 * _outside(box)
            + (120.0 if others and min(others) < own + 6.0 else 0.0)
            + 2.0 * rank
            + (30.0 if rank >= len(_DIRECTIONS) else 0.0)
        )

    fixed = [[fixed_cost(i, rank) for rank in range(len(options[i]))] for i in range(len(items))]

    def cost(i: int, rank: int, labels: dict[int, Box]) -> float:
        box = options[i][rank][1]
        return fixed[i][rank] + 2.0 * sum(
            _overlap(box, other) for j, other in labels.items() if j != i
        )

    chosen: dict[int, int] = {}
    labels: dict[int, Box] = {}
    for _ in range(_PASSES):
        moved = False
        for i in range(len(items)):
            best = min(range(len(options[i])), key=lambda rank: cost(i, rank, labels))
            if chosen.get(i) != best:
                chosen[i], labels[i], moved = best, options[i][best][1], True
        if not moved:
            break
    return [options[i][chosen[i]][0] for i in range(len(items))]


def _leader(
    importance: float, satisfaction: float, placement: _Placement
) -> tuple[float, float, float, float] | None:
    """A line from the dot's edge towards its far label, in data units; none for near labels."""
    if placement.reach <= _NEAR:
        return None
    length = math.hypot(placement.dx, placement.dy)
    ux, uy = placement.dx / length, placement.dy / length
    x, y = _pixel(importance, satisfaction)
    start, end = placement.radius + 1.0, length - 2.0
    return (
        (x + ux * start) / _PX_X,
        SCALE_MAX - (y + uy * start) / _PX_Y,
        (x + ux * end) / _PX_X,
        SCALE_MAX - (y + uy * end) / _PX_Y,
    )


# --- the fixed layers: zones, boundary lines and captions ------------------------------------


def _boundary(c: float) -> Callable[[float], float]:
    """Satisfaction on the line ``opportunity == c`` below the diagonal: 2 * importance - c."""
    return lambda imp: 2.0 * imp - c


def _zone_polygons() -> pd.DataFrame:
    """Each zone as satisfaction bounds at the importance values where some bound bends.

    Every bound is linear between these breakpoints, so a linear area draws the zones exactly.
    """
    under, extreme = _boundary(UNDER_SERVED_AT), _boundary(EXTREME_AT)
    xs = sorted({0.0, UNDER_SERVED_AT / 2, EXTREME_AT / 2, SCALE_MAX})
    bounds: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
        "over": (lambda x: x, lambda x: SCALE_MAX),
        "appropriate": (lambda x: max(0.0, under(x)), lambda x: x),
        "under": (lambda x: max(0.0, extreme(x)), lambda x: max(0.0, min(under(x), x))),
        "extreme": (lambda x: 0.0, lambda x: max(0.0, extreme(x))),
    }
    return pd.DataFrame(
        [
            {"zone": name, "importance": x, "low": low(x), "high": max(low(x), high(x))}
            for name, (low, high) in bounds.items()
            for x in xs
        ]
    )


@dataclass(frozen=True, slots=True)
class _Caption:
    text: str
    importance: float
    satisfaction: float
    colour: str
    align: str = "left"
    angle: float = 0.0
    bold: bool = True
    size: float = 11.0


def _line_angle(slope: float) -> float:
    """The on-screen angle (degrees, clockwise) of a line with this slope in data units."""
    return -math.degrees(math.atan(slope * _PX_Y / _PX_X))


def _captions() -> list[_Caption]:
    """Zone names in corners points rarely reach; line names along their lines, near the foot."""
    under, extreme = _boundary(UNDER_SERVED_AT), _boundary(EXTREME_AT)
    # align, angle, bold, size of the captions that run along a line
    diagonal = ("left", _line_angle(1.0), False, 10.0)
    steep = ("left", _line_angle(2.0), False, 10.0)
    return [
        _Caption("OVER-SERVED", 0.25, 9.55, "#2f5c8a"),
        _Caption("satisfaction > importance", 0.25, 9.15, "#2f5c8a", bold=False),
        _Caption("APPROPRIATELY SERVED", 1.3, 0.35, "#6b6b66"),
        _Caption("UNDER-SERVED", 5.35, 0.35, "#a4321f"),
        _Caption("EXTREME", 9.85, 0.35, "#67000d", align="right"),
        _Caption("satisfaction = importance", 2.2, 2.2, _LINE_COLOURS["diagonal"], *diagonal),
        _Caption("opportunity = 10", 5.6, under(5.6), _LINE_COLOURS["opp10"], *steep),
        _Caption("opportunity = 15", 8.1, extreme(8.1), _LINE_COLOURS["opp15"], *steep),
    ]


def _caption_boxes() -> list[Box]:
    """Boxes covering the captions, to keep point labels off them; a rotated caption is covered
    by a chain of small boxes along its slant, which hugs it far closer than one bounding box."""
    out: list[Box] = []
    for cap in _captions():
        x, y = _pixel(cap.importance, cap.satisfaction)
        # bold capitals run about a third wider than the running text the estimate is made for
        size = cap.size * (1.35 if cap.bold else 1.0)
        box = _text_box(x, y, [cap.text], cap.align, "bottom", size)
        if not cap.angle:
            out.append((box[0], box[3] - cap.size * 1.2, box[2], box[3]))
            continue
        length, rad = box[2] - box[0], math.radians(-cap.angle)
        lift, half = 4.0 + cap.size * 0.4, cap.size * 0.6
        for k in range(max(1, math.ceil(length / cap.size))):
            t = (k + 0.5) * cap.size
            # along the baseline, then up across it: the text stands on a line 4 px off the rule
            cx = x + t * math.cos(rad) - lift * math.sin(rad)
            cy = y - t * math.sin(rad) - lift * math.cos(rad)
            out.append((cx - half, cy - half, cx + half, cy + half))
    return out


def _x(field: str) -> alt.X:
    return alt.X(
        field,
        type="quantitative",
        title="Importance (0-10)",
        scale=alt.Scale(domain=[0, SCALE_MAX], nice=False, zero=True),
        axis=alt.Axis(values=list(range(11)), grid=False, labelFontSize=11, titleFontSize=13),
    )


def _y(field: str) -> alt.Y:
    return alt.Y(
        field,
        type="quantitative",
        title="Satisfaction (0-10)",
        scale=alt.Scale(domain=[0, SCALE_MAX], nice=False, zero=True),
        axis=alt.Axis(values=list(range(11)), grid=False, labelFontSize=11, titleFontSize=13),
        stack=None,
    )


def _zone_layers() -> list[alt.Chart]:
    # aria=False: the shading and rules are decoration for screen readers; the captions name them
    fills = (
        alt.Chart(_zone_polygons())
        .mark_area(interpolate="linear", aria=False)
        .encode(
            x=_x("importance"),
            y=_y("low"),
            y2="high:Q",
            fill=alt.Fill(
                "zone:N",
                scale=alt.Scale(domain=list(_ZONE_FILLS), range=list(_ZONE_FILLS.values())),
                legend=None,
            ),
        )
    )
    under, extreme = _boundary(UNDER_SERVED_AT), _boundary(EXTREME_AT)
    ends = {
        "diagonal": (0.0, 0.0, SCALE_MAX, SCALE_MAX),
        "opp10": (UNDER_SERVED_AT / 2, 0.0, SCALE_MAX, under(SCALE_MAX)),
        "opp15": (EXTREME_AT / 2, 0.0, SCALE_MAX, extreme(SCALE_MAX)),
    }
    rows = [{"line": k, "x": x, "y": y, "x2": x2, "y2": y2} for k, (x, y, x2, y2) in ends.items()]
    lines = (
        alt.Chart(pd.DataFrame(rows))
        .mark_rule(strokeWidth=1.4, strokeDash=[6, 4], aria=False)
        .encode(
            x=_x("x"),
            y=_y("y"),
            x2="x2:Q",
            y2="y2:Q",
            stroke=alt.Stroke(
                "line:N",
                scale=alt.Scale(domain=list(_LINE_COLOURS), range=list(_LINE_COLOURS.values())),
                legend=None,
            ),
        )
    )
    captions = pd.DataFrame(
        [
            {
                "text": c.text,
                "importance": c.importance,
                "satisfaction": c.satisfaction,
                "colour": c.colour,
                "align": c.align,
                "angle": c.angle,
                "weight": "bold" if c.bold else "normal",
                "size": c.size,
                "dy": -4.0 if c.angle else 0.0,  # rotated: lift off the line, across it
            }
            for c in _captions()
        ]
    )
    text = (
        alt.Chart(captions)
        .mark_text(
            baseline="bottom",
            align=alt.expr("datum.align"),
            angle=alt.expr("datum.angle"),
            fontWeight=alt.expr("datum.weight"),
            fontSize=alt.expr("datum.size"),
            dy=alt.expr("datum.dy"),
            fill=alt.expr("datum.colour"),
        )
        .encode(x=_x("importance"), y=_y("satisfaction"), text="text:N", description="text:N")
    )
    return [fills, lines, text]


def _point_layers(points: pd.DataFrame, selector: alt.Parameter | None) -> list[alt.Chart]:
    others = sorted(set(points["band"]) - {b.title for b in BANDS})
    domain = [b.title for b in BANDS] + others
    colours = [b.colour for b in BANDS] + [_OTHER_BAND.colour] * len(others)
    sizes = [b.size for b in BANDS] + [_OTHER_BAND.size] * len(others)
    tooltip = [
        alt.Tooltip("label:N", title="Outcome"),
        alt.Tooltip("outcome_id:N", title="Id"),
        alt.Tooltip("segment:N", title="Segment"),
        alt.Tooltip("n:Q", title="Respondents (n)", format=","),
        alt.Tooltip("importance:Q", title="Importance", format=".1f"),
        alt.Tooltip("satisfaction:Q", title="Satisfaction", format=".1f"),
        alt.Tooltip("opportunity:Q", title="Opportunity", format=".1f"),
        alt.Tooltip("ci:N", title="Opportunity CI"),
        alt.Tooltip("band:N", title="Band"),
        alt.Tooltip("zone:N", title="Zone"),
    ]
    base = alt.Chart(points)
    if selector is not None:
        base = base.transform_filter(f"datum.segment == {SEGMENT_PARAM}")
    legend = alt.Legend(
        title="Opportunity band",
        orient="bottom",
        direction="horizontal",
        titleFontSize=12,
        labelFontSize=11,
        symbolStrokeColor="#2b2b2b",
        symbolStrokeWidth=0.8,
    )
    x, y = _x("importance"), _y("satisfaction")
    leaders = (
        base.transform_filter("isValid(datum.leader_x)")
        .mark_rule(color="#4a4f55", strokeWidth=0.8, aria=False)
        .encode(x=_x("leader_x"), y=_y("leader_y"), x2="leader_x2:Q", y2="leader_y2:Q")
    )
    dots = base.mark_circle(opacity=1.0, stroke="#2b2b2b", strokeWidth=0.8).encode(
        x=x,
        y=y,
        color=alt.Color("band:N", scale=alt.Scale(domain=domain, range=colours), legend=legend),
        size=alt.Size("band:N", scale=alt.Scale(domain=domain, range=sizes), legend=legend),
        order=alt.Order("opportunity:Q", sort="ascending"),
        tooltip=tooltip,
        description=alt.Description("description:N"),  # what a screen reader says for the dot
    )
    text: dict[str, Any] = {
        "fontSize": _LABEL_SIZE,
        "lineHeight": _LINE_HEIGHT,
        "lineBreak": "\n",
        "limit": _LABEL_LIMIT,
        "align": alt.expr("datum.label_align"),
        "baseline": alt.expr("datum.label_baseline"),
        "dx": alt.expr("datum.label_dx"),
        "dy": alt.expr("datum.label_dy"),
        "aria": False,  # each dot already describes its outcome to screen readers
    }
    halo = base.mark_text(
        **text, stroke="white", strokeWidth=3, strokeOpacity=0.85, strokeJoin="round"
    ).encode(x=x, y=y, text="label_text:N")
    labels = base.mark_text(**text, color="#1f2328").encode(
        x=x, y=y, text="label_text:N", tooltip=tooltip
    )
    return [leaders, dots, halo, labels]


# --- output -----------------------------------------------------------------------------------


def _vl_version() -> str | None:
    """The Vega-Lite version Altair writes, if vl-convert bundles it (else vl-convert's latest)."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vlc.get_vegalite_versions() else None


def chart_to_vega_lite(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec with its data inlined, for the web app to embed."""
    spec: dict[str, Any] = chart.to_dict()
    return spec


def chart_to_svg(chart: alt.TopLevelMixin) -> str:
    return vlc.vegalite_to_svg(chart.to_json(), vl_version=_vl_version())


def chart_to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """PNG bytes; ``scale`` multiplies the pixel size (2 suits slides and high-density screens)."""
    return vlc.vegalite_to_png(chart.to_json(), vl_version=_vl_version(), scale=scale)


def _chart_to_html(chart: alt.TopLevelMixin) -> str:
    # bundle=True inlines the Vega JavaScript, so the page opens offline and behind firewalls
    return vlc.vegalite_to_html(chart.to_json(), vl_version=_vl_version(), bundle=True)


_WRITERS: Final[dict[str, Callable[[alt.TopLevelMixin, Path], object]]] = {
    ".svg": lambda chart, path: path.write_text(chart_to_svg(chart), encoding="utf-8"),
    ".png": lambda chart, path: path.write_bytes(chart_to_png(chart)),
    ".json": lambda chart, path: path.write_text(
        json.dumps(chart_to_vega_lite(chart), indent=2, ensure_ascii=False), encoding="utf-8"
    ),
    ".html": lambda chart, path: path.write_text(_chart_to_html(chart), encoding="utf-8"),
}


def save_chart(chart: alt.TopLevelMixin, path: str | Path) -> None:
    """Write the chart in the format its suffix names: .svg, .png, .json (Vega-Lite) or .html."""
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise LandscapeError(
            f"{path}: cannot save a chart as {path.suffix or 'a file without a suffix'}; "
            f"name it with one of {', '.join(_WRITERS)}"
        )
    writer(chart, path)
