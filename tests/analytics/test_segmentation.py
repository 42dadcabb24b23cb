"""Outcome-based segmentation: planted segments are found, noise is not, bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobgraph.analytics.segmentation import (
    KCandidate,
    SegmentationError,
    SegmentationResult,
    Stability,
    Verdict,
    _attribute_mixes,
    _choose,
    segment_respondents,
    stability_of,
)
from jobgraph.errors import UserError

GROUP_SIZES = {"A": 300, "B": 200, "C": 120}
N_OUTCOMES = 20
# each planted group is underserved on five outcomes of its own; the rest are shared noise
PLANTED = {g: [f"o{5 * i + j:02d}" for j in range(5)] for i, g in enumerate(GROUP_SIZES)}


def planted_survey(
    seed: int = 0, nan_share: float = 0.0, scale: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Profiles, attributes (group A is mostly in the north) and each respondent's true group."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(list(GROUP_SIZES), [n * scale for n in GROUP_SIZES.values()])
    ids = [f"r{i:05d}" for i in range(len(groups))]
    columns = [f"o{j:02d}" for j in range(N_OUTCOMES)]
    values = rng.normal(6.0, 1.5, (len(groups), N_OUTCOMES))
    for g, outcomes in PLANTED.items():
        cols = [columns.index(o) for o in outcomes]
        values[np.ix_(groups == g, cols)] += 8.0
    values = np.clip(values, 0.0, 20.0)
    values[rng.random(values.shape) < nan_share] = np.nan
    profiles = pd.DataFrame(values, index=pd.Index(ids, name="respondent_id"), columns=columns)
    regions = np.array(["north", "south", "east", "west"])
    region = np.where(
        (groups == "A") & (rng.random(len(groups)) < 0.8),
        "north",
        regions[rng.integers(0, 4, len(groups))],
    )
    channel = np.array(["phone", "chat", "email"])[rng.integers(0, 3, len(groups))]
    attributes = pd.DataFrame({"region": region, "channel": channel}, index=profiles.index)
    return profiles, attributes, pd.Series(groups, index=profiles.index)


def noise_survey(n: int = 400, outcomes: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.uniform(0.0, 20.0, (n, outcomes)),
        index=[f"r{i}" for i in range(n)],
        columns=[f"o{j:02d}" for j in range(outcomes)],
    )


def with_text_answer() -> pd.DataFrame:
    profiles = noise_survey().astype(object)
    profiles.iloc[1, 1] = "n/a"
    return profiles


def segment_of_group(result: SegmentationResult, truth: pd.Series) -> dict[str, tuple[str, float]]:
    """For each planted group: the segment most of it landed in, and that share."""
    table = pd.crosstab(truth, result.assignments)
    return {
        str(g): (str(table.loc[g].idxmax()), float(table.loc[g].max() / table.loc[g].sum()))
        for g in table.index
    }


@pytest.fixture(scope="module")
def planted() -> tuple[SegmentationResult, pd.Series]:
    profiles, attributes, truth = planted_survey()
    return segment_respondents(profiles, attributes), truth


def test_three_planted_segments_are_found_and_stable(
    planted: tuple[SegmentationResult, pd.Series],
) -> None:
    result, truth = planted
    assert result.chosen_k == 3
    assert result.verdict is Verdict.STABLE
    assert "3 stable segments" in result.message
    assert [c.k for c in result.candidates] == [2, 3, 4, 5, 6]
    assert all(s.stability == Stability.STABLE and s.jaccard >= 0.75 for s in result.segments)
    mapping = segment_of_group(result, truth)
    assert all(share > 0.9 for _, share in mapping.values()), mapping
    assert len({seg for seg, _ in mapping.values()}) == 3


def test_segments_are_labelled_by_size(planted: tuple[SegmentationResult, pd.Series]) -> None:
    result, truth = planted
    sizes = [s.size for s in result.segments]
    assert [s.label for s in result.segments] == ["S1", "S2", "S3"]
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == result.n_respondents == len(truth)
    assert sum(s.share for s in result.segments) == pytest.approx(1.0)
    assert result.assignments.value_counts().to_dict() == {s.label: s.size for s in result.segments}
    # the largest planted group is the largest segment
    assert segment_of_group(result, truth)["A"][0] == "S1"


def test_each_segment_is_described_by_its_planted_outcomes(
    planted: tuple[SegmentationResult, pd.Series],
) -> None:
    result, truth = planted
    by_label = {s.label: s for s in result.segments}
    for group, (label, _) in segment_of_group(result, truth).items():
        top = by_label[label].top_outcomes
        assert {gap.outcome_id for gap in top} == set(PLANTED[group])
        for outcome_id, segment_mean, others_mean, difference in top:
            assert outcome_id in PLANTED[group]
            assert difference == pytest.approx(segment_mean - others_mean)
            assert 6.0 < difference < 10.0  # planted gap is 8 points
        assert [gap.difference for gap in top] == sorted(
            (gap.difference for gap in top), reverse=True
        )


def test_planted_attribute_is_over_represented_and_random_one_is_not(
    planted: tuple[SegmentationResult, pd.Series],
) -> None:
    result, truth = planted
    segment_a = next(
        s for s in result.segments if s.label == segment_of_group(result, truth)["A"][0]
    )
    mix = segment_a.attribute_mix["region"]
    assert mix["north"] > 0.8
    assert sum(mix.values()) == pytest.approx(1.0)
    lift = next(
        x for x in segment_a.over_represented if (x.attribute, x.value) == ("region", "north")
    )
    assert lift.lift > 1.5
    assert lift.segment_share == pytest.approx(mix["north"])
    assert lift.p_value < 0.01
    for segment in result.segments:
        assert set(segment.attribute_mix) == {"region", "channel"}
        assert all(x.attribute != "channel" for x in segment.over_represented)


def test_over_representation_needs_both_lift_and_significance() -> None:
    groups = [
        # (segment, value, count)
        (0, "phone", 5_500), (0, "email", 4_500),  # phone: lift 1.1 on 10,000 people
        (1, "phone", 4_500), (1, "email", 5_500),  # email: lift 1.1 on 10,000 people
        (2, "email", 3), (2, "phone", 1),  # email: lift 1.5 on four people, p about 0.3
        (3, "chat", 12),  # chat: nobody else has it
    ]  # fmt: skip
    seg = np.repeat([g for g, _, _ in groups], [n for _, _, n in groups]).astype(np.int64)
    values = np.repeat([v for _, v, _ in groups], [n for _, _, n in groups])
    ids = pd.Index([f"r{i}" for i in range(len(seg))])
    mixes = _attribute_mixes(pd.DataFrame({"channel": values}, index=ids), ids, seg, 4)
    assert mixes[0][0]["channel"] == {"phone": 0.55, "email": 0.45}
    assert mixes[0][1] == mixes[1][1] == mixes[2][1] == []
    (chat,) = mixes[3][1]
    assert (chat.attribute, chat.value, chat.segment_share) == ("channel", "chat", 1.0)
    assert chat.lift == pytest.approx(len(seg) / 12)
    assert chat.p_value < 1e-30


def test_result_is_plain_json(planted: tuple[SegmentationResult, pd.Series]) -> None:
    result, _ = planted
    data = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert data["chosen_k"] == 3
    assert data["verdict"] == "stable"
    assert len(data["assignments"]) == result.n_respondents
    assert set(data["segments"][0]["top_outcomes"][0]) == {
        "outcome_id",
        "segment_mean",
        "others_mean",
        "difference",
    }
    assert data["candidates"][1]["k"] == 3


def test_uniform_noise_yields_no_segments() -> None:
    result = segment_respondents(noise_survey())
    assert result.verdict == Verdict.NONE
    assert result.chosen_k is None
    assert result.segments == []
    assert result.assignments.isna().all()
    assert list(result.assignments.index) == list(noise_survey().index)
    assert result.message.startswith("No stable segment structure")
    best = max(c.silhouette for c in result.candidates)
    assert f"best silhouette is {best:.2f}" in result.message
    assert "rather than inventing segments" in result.message


def test_segments_on_few_outcomes_or_few_people_carry_a_warning() -> None:
    result = segment_respondents(noise_survey(n=40, outcomes=3), n_boot=20)
    # the known limit: three structureless outcomes still give separated, reproducible cuts
    assert result.verdict != Verdict.NONE
    assert any(w.startswith("only 3 outcomes: below 10") for w in result.warnings)
    small = [s.label for s in result.segments if s.size < 60]
    assert small
    for label in small:
        assert any(w.startswith(f"segment {label} has only") for w in result.warnings)


def test_planted_segments_carry_no_caveats(planted: tuple[SegmentationResult, pd.Series]) -> None:
    result, _ = planted
    assert result.warnings == []


def test_same_seed_gives_the_same_segmentation() -> None:
    profiles, attributes, _ = planted_survey(seed=5)
    runs = [segment_respondents(profiles, attributes, k_max=4, n_boot=10, seed=3) for _ in range(2)]
    assert runs[0].as_dict() == runs[1].as_dict()
    pd.testing.assert_series_equal(runs[0].assignments, runs[1].assignments)


def test_missing_answers_are_imputed_and_reported() -> None:
    profiles, attributes, truth = planted_survey(seed=1, nan_share=0.15)
    profiles["o19"] = np.nan  # an outcome nobody answered
    profiles.loc["r00007"] = np.nan  # a respondent who answered nothing
    result = segment_respondents(profiles, attributes.drop(index="r00011"), n_boot=20)
    assert result.chosen_k == 3
    assert pd.isna(result.assignments["r00007"])
    assert result.assignments.drop(index="r00007").notna().all()
    assert sum(s.size for s in result.segments) == len(profiles) - 1
    assert any("o19" in w for w in result.warnings)
    assert any("no segment for 1 respondent who answered nothing" in w for w in result.warnings)
    assert any("no attributes for 1 respondent" in w for w in result.warnings)
    mapping = segment_of_group(result, truth.drop(index="r00007"))
    assert all(share > 0.9 for _, share in mapping.values()), mapping
    for segment in result.segments:
        assert all(gap.outcome_id != "o19" for gap in segment.top_outcomes)
        assert all(np.isfinite(gap.segment_mean) for gap in segment.top_outcomes)


def test_big_surveys_are_fitted_on_a_sample_and_everyone_is_assigned() -> None:
    profiles, _, truth = planted_survey(seed=2, scale=5)
    result = segment_respondents(
        profiles, None, k_max=4, n_boot=10, max_fit_rows=400, max_boot_rows=200
    )
    assert result.n_used_for_fit == 400
    assert result.n_respondents == len(profiles) == 3100
    assert result.chosen_k == 3
    assert result.assignments.notna().all()
    assert all(share > 0.9 for _, share in segment_of_group(result, truth).values())
    assert all(s.attribute_mix == {} and s.over_represented == [] for s in result.segments)


@pytest.mark.parametrize(
    ("profiles", "kwargs", "message"),
    [
        (
            noise_survey(n=3),
            {},
            "3 respondents; segmenting into at least 2 groups needs at least 4",
        ),
        (noise_survey(n=7), {"k_min": 4, "k_max": 4}, "needs at least 8"),
        (noise_survey(outcomes=1), {}, "1 outcome column"),
        (noise_survey() + 15.0, {}, "between 0 and 20"),
        (with_text_answer(), {}, "numbers"),
        (noise_survey(), {"k_min": 1}, "k_min must be at least 2"),
        (noise_survey(), {"k_min": 4, "k_max": 3}, "k_max"),
        (noise_survey(), {"n_boot": 5}, "at least 10 bootstrap"),
        (noise_survey(), {"max_fit_rows": 5}, "max_fit_rows"),
    ],
)
def test_unusable_input_is_refused_with_a_clear_message(
    profiles: pd.DataFrame, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        segment_respondents(profiles, None, **kwargs)
    assert isinstance(raised.value, SegmentationError | UserError)


def test_nobody_answering_is_refused() -> None:
    profiles = noise_survey(n=10)
    profiles.iloc[2:] = np.nan
    with pytest.raises(SegmentationError, match="only 2 respondents answered any outcome"):
        segment_respondents(profiles, None)


@pytest.mark.parametrize(
    ("jaccard", "expected"),
    [(1.0, "stable"), (0.75, "stable"), (0.7, "weak"), (0.6, "weak"), (0.59, "unreliable")],
)
def test_hennig_stability_bands(jaccard: float, expected: str) -> None:
    assert stability_of(jaccard) == expected


def candidate(k: int, silhouette: float, jaccards: list[float]) -> KCandidate:
    return KCandidate(k, silhouette, jaccards, min(jaccards), min(jaccards) >= 0.75)


def test_choice_prefers_all_stable_k_over_a_sharper_weak_one() -> None:
    chosen, verdict, _ = _choose(
        [candidate(2, 0.30, [0.9, 0.8]), candidate(3, 0.45, [0.9, 0.7, 0.9])], 2, 3, 50, 100
    )
    assert (chosen and chosen.k, verdict) == (2, Verdict.STABLE)


def test_choice_falls_back_to_weak_and_says_so() -> None:
    chosen, verdict, message = _choose(
        [candidate(2, 0.30, [0.9, 0.5]), candidate(3, 0.25, [0.7, 0.65, 0.8])], 2, 3, 50, 100
    )
    assert (chosen and chosen.k, verdict) == (3, Verdict.WEAK)
    assert "tentative" in message


def test_stable_but_unseparated_clusters_are_not_segments() -> None:
    chosen, verdict, message = _choose([candidate(2, 0.05, [0.95, 0.95])], 2, 2, 50, 100)
    assert (chosen, verdict) == (None, Verdict.NONE)
    assert "not separated" in message and "k=2 is reproducible" in message


profile_frames = st.tuples(
    st.integers(6, 30), st.integers(2, 5), st.integers(0, 2**16), st.floats(0.0, 0.3)
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile_frames)
def test_every_respondent_gets_at_most_one_segment_and_sizes_add_up(
    spec: tuple[int, int, int, float],
) -> None:
    n, outcomes, seed, nan_share = spec
    rng = np.random.default_rng(seed)
    values = rng.choice(np.arange(0.0, 20.5, 2.5), size=(n, outcomes))
    values[rng.random(values.shape) < nan_share] = np.nan
    values[:, 0] = rng.uniform(0, 20, n)  # every respondent answered something
    profiles = pd.DataFrame(values, index=[f"r{i}" for i in range(n)])
    profiles.columns = [f"o{j}" for j in range(outcomes)]
    result = segment_respondents(profiles, None, k_max=3, n_boot=10, seed=seed)
    assert list(result.assignments.index) == list(profiles.index)
    assert sum(s.size for s in result.segments) == int(result.assignments.notna().sum())
    assert set(result.assignments.dropna()) == {s.label for s in result.segments}
    assert (result.verdict == Verdict.NONE) == (result.chosen_k is None) == (not result.segments)
    for c in result.candidates:
        assert -1.0 <= c.silhouette <= 1.0
        assert all(0.0 <= j <= 1.0 for j in c.mean_jaccard)
        assert len(c.mean_jaccard) == c.k
    json.dumps(result.as_dict(), allow_nan=False)
