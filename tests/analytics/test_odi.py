"""ODI scoring: published worked examples, element-wise maths, properties, CIs, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobgraph.analytics.odi import (
    band,
    compare_segments,
    opportunity,
    respondent_profiles,
    score,
)
from jobgraph.analytics.survey import Scale, Survey


def survey_from_counts(
    spec: dict[str, tuple[int, int, int]],
    attrs: list[str] | None = None,
) -> Survey:
    """spec: outcome -> (n, importance top-box count, satisfaction top-box count)."""
    rows = []
    for outcome, (n, imp_top, sat_top) in spec.items():
        for i in range(n):
            rows.append((f"r{i}", outcome, 5 if i < imp_top else 2, 5 if i < sat_top else 2))
    frame = pd.DataFrame(
        rows, columns=["respondent_id", "outcome_id", "importance", "satisfaction"]
    )
    attributes = None
    if attrs is not None:
        ids = sorted({r[0] for r in rows}, key=lambda r: int(r[1:]))
        attributes = pd.DataFrame(
            {"segment": [attrs[int(r[1:]) % len(attrs)] for r in ids]}, index=pd.Index(ids)
        )
    return Survey.from_frame(frame, attributes, scale=Scale(1, 5, 4))


def test_worked_example_270_and_90_of_300() -> None:
    s = score(survey_from_counts({"o": (300, 270, 90)})).get("o")
    assert (s.importance, s.satisfaction, s.opportunity) == (9.0, 3.0, 15.0)
    assert s.band == "high"  # 15 is "high" (12-15); extreme is above 15
    assert not s.overserved


def test_overserved_outcome_scores_its_importance() -> None:
    assert opportunity(6.7, 8.4) == pytest.approx(6.7)
    assert band(6.7) == "low"


def test_no_rounding_before_presentation() -> None:
    s = score(survey_from_counts({"o": (270, 200, 75)})).get("o")
    assert s.opportunity == pytest.approx(200 / 27 + (200 / 27 - 75 / 27))
    assert f"{s.opportunity:.2f}" == "12.04"
    assert f"{s.opportunity:.1f}" == "12.0"
    assert s.band == "high"


def test_scoring_is_element_wise_not_one_max_over_all_outcomes() -> None:
    # the gap of the most underserved outcome must not leak into the others
    t = score(survey_from_counts({"gap": (100, 90, 10), "served": (100, 50, 80)}))
    assert t.get("gap").opportunity == pytest.approx(9 + 8)
    assert t.get("served").opportunity == pytest.approx(5.0)
    assert t.get("served").overserved
    np.testing.assert_allclose(opportunity([9, 5], [1, 8]), [17, 5])


unit = st.floats(0, 10, allow_nan=False)


@given(unit, unit)
def test_opportunity_lies_between_importance_and_twice_importance(imp: float, sat: float) -> None:
    opp = float(opportunity(imp, sat))
    assert imp - 1e-9 <= opp <= 2 * imp + 1e-9


@given(unit, unit, unit)
def test_opportunity_never_falls_when_satisfaction_falls(imp: float, s1: float, s2: float) -> None:
    low, high = sorted((s1, s2))
    assert opportunity(imp, low) >= opportunity(imp, high)


@given(unit, unit, unit)
def test_opportunity_never_falls_when_importance_rises(i1: float, i2: float, sat: float) -> None:
    low, high = sorted((i1, i2))
    assert opportunity(high, sat) >= opportunity(low, sat)


@given(
    st.integers(1, 400).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(0, n))
    )
)
def test_scores_match_the_formula_for_any_counts(counts: tuple[int, int, int]) -> None:
    n, it, stop = counts
    s = score(survey_from_counts({"o": counts}), n_boot=100).get("o")
    imp, sat = it / n * 10, stop / n * 10
    assert s.importance == pytest.approx(imp)
    assert s.satisfaction == pytest.approx(sat)
    assert s.opportunity == pytest.approx(imp + max(imp - sat, 0))
    assert s.opportunity_ci_low <= s.opportunity + 1e-9 <= s.opportunity_ci_high + 2e-9


def test_bootstrap_ci_is_seeded_and_matches_a_respondent_bootstrap() -> None:
    sv = survey_from_counts({"o": (300, 200, 120)})
    a = score(sv, seed=3).get("o")
    b = score(sv, seed=3).get("o")
    assert (a.opportunity_ci_low, a.opportunity_ci_high) == (
        b.opportunity_ci_low,
        b.opportunity_ci_high,
    )
    # a plain bootstrap that resamples respondents gives the same interval (within MC error)
    rng = np.random.default_rng(0)
    imp = (sv.importance >= 4).astype(float)
    sat = (sv.satisfaction >= 4).astype(float)
    idx = rng.integers(0, 300, size=(4000, 300))
    i_b, s_b = imp[idx].mean(axis=1) * 10, sat[idx].mean(axis=1) * 10
    plain = i_b + np.maximum(i_b - s_b, 0)
    assert a.opportunity_ci_low == pytest.approx(np.quantile(plain, 0.025), abs=0.15)
    assert a.opportunity_ci_high == pytest.approx(np.quantile(plain, 0.975), abs=0.15)


def test_segments_and_small_sample_warning() -> None:
    sv = survey_from_counts({"o": (200, 150, 50)}, attrs=["a", "b", "a", "a"])
    t = score(sv, segment_by="segment")
    segs = {s.segment: s for s in t.scores}
    assert set(segs) == {"all", "a", "b"}
    assert segs["a"].n + segs["b"].n == 200
    assert segs["b"].n == 50 and segs["b"].small_sample
    assert any("segment=b" in w and "< 60" in w for w in t.warnings)


def test_compare_segments_detects_a_real_difference_and_not_a_null_one() -> None:
    rows = []
    for i in range(400):
        seg = "x" if i < 200 else "y"
        imp = 5 if (i % 10) < (9 if seg == "x" else 5) else 2
        rows.append((f"r{i}", "o", imp, 2, seg))
    frame = pd.DataFrame(
        rows, columns=["respondent_id", "outcome_id", "importance", "satisfaction", "seg"]
    )
    attrs = frame.drop_duplicates("respondent_id").set_index("respondent_id")[["seg"]]
    sv = Survey.from_frame(
        frame[["respondent_id", "outcome_id", "importance", "satisfaction"]], attrs
    )
    diff = compare_segments(sv, "o", "seg", "x", "y", n_boot=2000)
    assert diff.difference == pytest.approx(18 - 10)
    assert diff.p_value < 0.001
    assert diff.ci_low > 0
    same = compare_segments(sv, "o", "seg", "x", "x", n_boot=500)
    assert same.p_value == pytest.approx(1.0)


def test_respondent_profiles_rescale_ratings() -> None:
    frame = pd.DataFrame(
        {
            "respondent_id": ["a", "a", "b"],
            "outcome_id": ["o1", "o2", "o1"],
            "importance": [5, 1, 3],
            "satisfaction": [1, 1, np.nan],
        }
    )
    profiles = respondent_profiles(Survey.from_frame(frame))
    assert profiles.loc["a", "o1"] == pytest.approx(20.0)
    assert profiles.loc["a", "o2"] == pytest.approx(0.0)
    assert np.isnan(profiles.loc["b", "o1"])
    assert np.isnan(profiles.loc["b", "o2"])


@pytest.mark.parametrize(
    ("counts", "opp", "expected"),
    [
        ((30, 25, 5), 15.0, "high"),
        ((7, 4, 1), 10.0, "worth considering"),
        ((5, 3, 0), 12.0, "high"),
    ],
)
def test_bands_are_exact_on_their_boundaries(
    counts: tuple[int, int, int], opp: float, expected: str
) -> None:
    s = score(survey_from_counts({"o": counts}), n_boot=100).get("o")
    assert s.opportunity == opp
    assert s.band == expected


@given(
    st.integers(1, 300).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(0, n))
    )
)
def test_band_of_counts_matches_the_exact_fraction(counts: tuple[int, int, int]) -> None:
    from fractions import Fraction

    from jobgraph.analytics.odi import band_of_counts

    n, i, s = counts
    exact = Fraction(10 * (i + max(i - s, 0)), n)
    expected = (
        "extreme"
        if exact > 15
        else "high"
        if exact >= 12
        else "worth considering"
        if exact >= 10
        else "low"
    )
    assert band_of_counts(n, i, s) == expected


def test_respondents_without_a_segment_value_stay_in_all_only() -> None:
    frame = pd.DataFrame(
        {
            "respondent_id": ["a", "b", "c"],
            "outcome_id": "o",
            "importance": [5, 5, 1],
            "satisfaction": [1, 1, 1],
        }
    )
    attrs = pd.DataFrame({"region": ["north", None, "north"]}, index=pd.Index(["a", "b", "c"]))
    t = score(Survey.from_frame(frame, attrs), segment_by="region", n_boot=100)
    assert {s.segment for s in t.scores} == {"all", "north"}
    assert t.get("o").n == 3 and t.get("o", "north").n == 2
    assert any("1 respondent(s) without a region value" in w for w in t.warnings)
