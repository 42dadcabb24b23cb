"""The opportunity landscape: zone maths, rendering, segment filtering, saving, bad input."""

from __future__ import annotations

import functools
import html
import itertools
import json
import re
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import vl_convert as vlc
from hypothesis import assume, given
from hypothesis import strategies as st

from jobgraph.analytics.landscape import (
    LandscapeError,
    Zone,
    _Item,
    _place_labels,
    _text_box,
    chart_to_png,
    chart_to_svg,
    chart_to_vega_lite,
    landscape_chart,
    save_chart,
    zone,
)
from jobgraph.analytics.odi import band, opportunity

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_BUSINESS = "small business"

# outcome id, label, (importance, satisfaction) for "all" and for "small business"
OUTCOMES = [
    ("outcome.billing-error-fixed", "Time to correct a billing error", (9.1, 3.2), (9.3, 2.6)),
    ("outcome.repeat-contacts", "Repeat contacts for one issue", (8.6, 4.1), (8.9, 4.0)),
    ("outcome.time-on-hold", "Time on hold", (8.2, 5.6), (7.4, 5.9)),
    ("outcome.transfers", "Transfers between agents", (7.9, 3.9), (8.4, 3.1)),
    ("outcome.verify-identity", "Effort to verify identity", (6.4, 5.9), (6.9, 4.2)),
    ("outcome.unexpected-charges", "Unexpected charges", (8.8, 6.9), (9.0, 6.0)),
    ("outcome.next-steps", "Clarity of next steps", (7.123456, 4.8), (6.6, 5.5)),
    ("outcome.answer-online", "Time to find an answer online", (5.3, 6.2), (4.8, 6.9)),
    ("outcome.channels-tried", "Channels tried before resolution", (6.8, 3.0), (7.7, 2.5)),
    ("outcome.agent-courtesy", "Agent courtesy", (4.6, 8.3), (5.0, 7.9)),
]
LABELS = [label for _, label, _, _ in OUTCOMES]


def score_row(outcome_id: str, label: str, segment: str, imp: float, sat: float) -> dict[str, Any]:
    opp = float(opportunity(imp, sat))
    return {
        "outcome_id": outcome_id,
        "label": label,
        "segment": segment,
        "n": 412 if segment == "all" else 97,
        "importance": imp,
        "satisfaction": sat,
        "opportunity": opp,
        "opportunity_ci_low": opp - 1.04,
        "opportunity_ci_high": min(opp + 1.16, 20.0),
        "band": band(opp),
        "overserved": sat > imp,
    }


@pytest.fixture
def scores() -> pd.DataFrame:
    """Ten outcomes in two segments, as ``ScoreTable.frame()`` gives them plus labels."""
    rows = []
    for oid, label, everyone, small in OUTCOMES:
        rows.append(score_row(oid, label, "all", *everyone))
        rows.append(score_row(oid, label, SMALL_BUSINESS, *small))
    return pd.DataFrame(rows)


def datasets(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(spec.get("datasets", {}).values())


def outcome_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows behind the dots: the one dataset with an outcome_id column."""
    (rows,) = [d for d in datasets(spec) if d and "outcome_id" in d[0]]
    return rows


def dot_descriptions(svg: str) -> list[str]:
    """The screen-reader description of every dot in a rendered SVG."""
    found = re.findall(r'<path[^>]*aria-roledescription="circle"[^>]*>', svg)
    return [html.unescape(m) for d in found for m in re.findall(r'aria-label="([^"]*)"', d)]


def visible_texts(svg: str) -> set[str]:
    """Every text in the SVG, with the lines of a multi-line text joined by a space."""
    out = set()
    for inner in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S):
        joined = re.sub(r"</tspan>\s*<tspan[^>]*>", " ", inner)
        out.add(html.unescape(re.sub(r"<[^>]+>", "", joined)))
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- zones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("importance", "satisfaction", "expected"),
    [
        (9, 3, Zone.UNDER_SERVED),  # opportunity 15
        (5, 8, Zone.OVER_SERVED),
        (6, 5, Zone.APPROPRIATELY_SERVED),  # opportunity 7
        (5, 0, Zone.UNDER_SERVED),  # on the line opportunity = 10
        (7.5, 5, Zone.UNDER_SERVED),  # on the line too
        (7.4, 5, Zone.APPROPRIATELY_SERVED),  # just inside: opportunity 9.8
        (10, 10, Zone.UNDER_SERVED),  # importance 10 alone reaches 10
        (4, 4, Zone.APPROPRIATELY_SERVED),  # on the diagonal: met, not exceeded
        (4, 4.01, Zone.OVER_SERVED),
    ],
)
def test_zone_of_a_point(importance: float, satisfaction: float, expected: Zone) -> None:
    assert zone(importance, satisfaction) == expected


def test_zone_names_are_the_words_users_read() -> None:
    assert zone(9, 3) == "under-served"
    assert zone(5, 8) == "over-served"
    assert zone(6, 5) == "appropriately served"


@pytest.mark.parametrize(("importance", "satisfaction"), [(11, 3), (5, -0.5)])
def test_zone_refuses_points_off_the_scale(importance: float, satisfaction: float) -> None:
    with pytest.raises(ValueError, match="0-10"):
        zone(importance, satisfaction)


@functools.cache
def drawn_zones() -> list[dict[str, Any]]:
    """The zone polygons as the chart draws them: satisfaction bounds at breakpoints."""
    spec = chart_to_vega_lite(landscape_chart(pd.DataFrame([score_row("o", "O", "all", 5, 5)])))
    (polygons,) = [d for d in datasets(spec) if d and "zone" in d[0] and "low" in d[0]]
    return polygons


def shaded_zone(imp: float, sat: float) -> set[str]:
    """Which drawn zones contain the point, interpolating each zone's bounds linearly."""
    polygons = drawn_zones()
    inside = set()
    for name in {p["zone"] for p in polygons}:
        pts = sorted((p for p in polygons if p["zone"] == name), key=lambda p: p["importance"])
        for a, b in itertools.pairwise(pts):
            if a["importance"] <= imp <= b["importance"]:
                t = (imp - a["importance"]) / (b["importance"] - a["importance"])
                low = a["low"] + t * (b["low"] - a["low"])
                high = a["high"] + t * (b["high"] - a["high"])
                if low < sat < high:
                    inside.add(name)
    return inside


ZONE_OF_SHADE = {
    "over": Zone.OVER_SERVED,
    "appropriate": Zone.APPROPRIATELY_SERVED,
    "under": Zone.UNDER_SERVED,
    "extreme": Zone.UNDER_SERVED,
}


@given(
    st.floats(0.01, 9.99, allow_nan=False),
    st.floats(0.01, 9.99, allow_nan=False),
)
def test_the_shading_under_every_point_is_its_zone(imp: float, sat: float) -> None:
    opp = float(opportunity(imp, sat))
    # points on a drawn boundary belong to two shades; keep clear of them
    assume(abs(opp - 10) > 1e-6 and abs(opp - 15) > 1e-6 and abs(sat - imp) > 1e-6)
    shades = shaded_zone(imp, sat)
    assert len(shades) == 1
    (shade,) = shades
    assert ZONE_OF_SHADE[shade] == zone(imp, sat)
    assert (shade == "extreme") == (opp >= 15)


def test_the_boundary_lines_are_opportunity_10_and_15(scores: pd.DataFrame) -> None:
    spec = chart_to_vega_lite(landscape_chart(scores))
    (lines,) = [d for d in datasets(spec) if d and "line" in d[0]]
    for line in lines:
        ends = [(line["x"], line["y"]), (line["x2"], line["y2"])]
        values = {round(float(opportunity(x, y)), 9) for x, y in ends}
        expected = {"diagonal": None, "opp10": {10.0}, "opp15": {15.0}}[line["line"]]
        if expected is None:
            assert all(x == y for x, y in ends)
        else:
            assert values == expected


# --- rendering -------------------------------------------------------------------------------


def test_svg_shows_every_outcome_with_its_label(scores: pd.DataFrame) -> None:
    svg = chart_to_svg(landscape_chart(scores, segment="all"))
    assert svg.startswith("<svg")
    texts = visible_texts(svg)
    for label in LABELS:
        assert label in texts
    assert {"Importance (0-10)", "Satisfaction (0-10)", "Opportunity band"} <= texts
    assert {"OVER-SERVED", "APPROPRIATELY SERVED", "UNDER-SERVED", "EXTREME"} <= texts
    assert {"opportunity = 10", "opportunity = 15"} <= texts


def test_png_has_the_signature_and_a_readable_size(scores: pd.DataFrame) -> None:
    chart = landscape_chart(scores)
    width, height = png_size(chart_to_png(chart, scale=1))
    assert width >= 640 and height >= 480
    assert png_size(chart_to_png(chart, scale=2)) == pytest.approx((2 * width, 2 * height), abs=2)


def test_values_are_plotted_unrounded_and_rounded_only_in_tooltips(scores: pd.DataFrame) -> None:
    spec = chart_to_vega_lite(landscape_chart(scores, segment="all"))
    rows = {r["outcome_id"]: r for r in outcome_rows(spec)}
    assert rows["outcome.next-steps"]["importance"] == 7.123456
    formats = {
        t["field"]: t.get("format")
        for layer in spec["layer"]
        for t in layer.get("encoding", {}).get("tooltip", [])
    }
    assert formats["importance"] == formats["satisfaction"] == formats["opportunity"] == ".1f"
    assert {"outcome_id", "label", "n", "ci"} <= set(formats)
    assert rows["outcome.next-steps"]["ci"] == "8.4\u201310.6"
    svg = chart_to_svg(landscape_chart(scores, segment="all"))
    (described,) = [d for d in dot_descriptions(svg) if d.startswith("Clarity of next steps")]
    assert "importance 7.1, satisfaction 4.8, opportunity 9.4" in described


def test_a_missing_label_falls_back_to_the_outcome_id(scores: pd.DataFrame) -> None:
    everyone = scores[scores["segment"] == "all"]
    no_column = chart_to_svg(landscape_chart(everyone.drop(columns=["label"])))
    assert "outcome.time-on-hold" in visible_texts(no_column)
    blank = everyone.assign(label=everyone["label"].where(everyone["label"] != "Time on hold"))
    texts = visible_texts(chart_to_svg(landscape_chart(blank)))
    assert "outcome.time-on-hold" in texts
    assert "Agent courtesy" in texts


def test_labels_do_not_cover_one_another_in_a_cluster() -> None:
    # five outcomes within a few tenths of a point of each other
    items = [
        _Item(500.0 + 8 * k, 250.0 + 6 * (k % 2), 8.0, ("Outcome number", f"{k} in a cluster"))
        for k in range(5)
    ]
    placed = _place_labels(items)
    boxes = [
        _text_box(it.x + p.dx, it.y + p.dy, it.lines, p.align, p.baseline, 11)
        for it, p in zip(items, placed, strict=True)
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_an_empty_table_draws_the_zones_alone() -> None:
    empty = pd.DataFrame([score_row("o", "O", "all", 5, 5)]).iloc[0:0]
    svg = chart_to_svg(landscape_chart(empty))
    assert dot_descriptions(svg) == []
    assert "UNDER-SERVED" in visible_texts(svg)


# --- segments --------------------------------------------------------------------------------


def test_segment_draws_only_that_segments_outcomes(scores: pd.DataFrame) -> None:
    chart = landscape_chart(scores, segment=SMALL_BUSINESS)
    spec = chart_to_vega_lite(chart)
    assert {r["segment"] for r in outcome_rows(spec)} == {SMALL_BUSINESS}
    assert "params" not in spec
    dots = dot_descriptions(chart_to_svg(chart))
    assert len(dots) == len(OUTCOMES)
    assert all(f"({SMALL_BUSINESS}):" in d for d in dots)
    assert f"Segment: {SMALL_BUSINESS}" in visible_texts(chart_to_svg(chart))


def test_several_segments_get_a_dropdown_that_starts_on_all(scores: pd.DataFrame) -> None:
    spec = chart_to_vega_lite(landscape_chart(scores))
    (param,) = spec["params"]
    assert param["bind"]["input"] == "select"
    assert param["bind"]["options"] == ["all", SMALL_BUSINESS]
    assert param["value"] == "all"
    svg = vlc.vegalite_to_svg(spec)
    dots = dot_descriptions(svg)
    assert len(dots) == len(OUTCOMES)
    assert all("(all):" in d for d in dots)


def test_choosing_in_the_dropdown_shows_that_segment(scores: pd.DataFrame) -> None:
    spec = chart_to_vega_lite(landscape_chart(scores))
    spec["params"][0]["value"] = SMALL_BUSINESS  # what the menu does in the browser
    svg = vlc.vegalite_to_svg(spec)
    dots = dot_descriptions(svg)
    assert len(dots) == len(OUTCOMES)
    assert all(f"({SMALL_BUSINESS}):" in d for d in dots)
    assert f"Segment: {SMALL_BUSINESS}" in visible_texts(svg)


def test_one_segment_has_no_dropdown(scores: pd.DataFrame) -> None:
    spec = chart_to_vega_lite(landscape_chart(scores[scores["segment"] == "all"]))
    assert "params" not in spec


def test_without_the_dropdown_the_first_segment_is_drawn(scores: pd.DataFrame) -> None:
    chart = landscape_chart(scores, interactive_filter=False)
    assert "params" not in chart_to_vega_lite(chart)
    dots = dot_descriptions(chart_to_svg(chart))
    assert len(dots) == len(OUTCOMES)
    assert all("(all):" in d for d in dots)


def test_an_unknown_segment_names_the_known_ones(scores: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"enterprise.*all, small business"):
        landscape_chart(scores, segment="enterprise")


# --- saving ----------------------------------------------------------------------------------


def test_save_chart_writes_each_format(scores: pd.DataFrame, tmp_path: Path) -> None:
    chart = landscape_chart(scores)
    for suffix in (".svg", ".png", ".json", ".html", ".SVG"):
        save_chart(chart, tmp_path / f"landscape{suffix}")
    assert (tmp_path / "landscape.svg").read_text(encoding="utf-8").startswith("<svg")
    assert (tmp_path / "landscape.SVG").read_text(encoding="utf-8").startswith("<svg")
    assert png_size((tmp_path / "landscape.png").read_bytes())[0] >= 1280
    spec = json.loads((tmp_path / "landscape.json").read_text(encoding="utf-8"))
    assert spec == chart_to_vega_lite(chart)
    page = (tmp_path / "landscape.html").read_text(encoding="utf-8")
    assert "<html" in page and "segment_shown" in page
    # self-contained: opens offline, no script fetched from a CDN
    assert not re.search(r"<script[^>]+src=", page)


def test_save_chart_names_the_formats_for_an_unknown_suffix(
    scores: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.json, \.html") as caught:
        save_chart(landscape_chart(scores), tmp_path / "landscape.pdf")
    assert ".pdf" in str(caught.value)
    assert not (tmp_path / "landscape.pdf").exists()


# --- bad input -------------------------------------------------------------------------------


def test_missing_columns_are_named(scores: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="n, band") as caught:
        landscape_chart(scores.drop(columns=["band", "n"]))
    assert isinstance(caught.value, LandscapeError)


def test_out_of_scale_values_name_their_outcomes(scores: pd.DataFrame) -> None:
    bad = scores.astype({"satisfaction": object})
    bad.loc[0, "importance"] = 12.0
    bad.loc[3, "satisfaction"] = "high"
    with pytest.raises(ValueError) as caught:
        landscape_chart(bad)
    message = str(caught.value)
    assert "importance" in message and "outcome.billing-error-fixed" in message
    assert "satisfaction" in message and "outcome.repeat-contacts" in message


def test_a_repeated_outcome_in_a_segment_is_refused(scores: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"outcome\.time-on-hold \(all\)"):
        landscape_chart(pd.concat([scores, scores.iloc[[4]]]))
