"""Outcome-driven prioritisation: importance, satisfaction and opportunity per outcome.

Definitions (Ulwick, *What Customers Want*, 2005; Strategyn):

- importance = share of respondents rating importance in the top box x 10 (0-10);
- satisfaction = the same for satisfaction;
- opportunity = importance + max(importance - satisfaction, 0), element-wise per outcome
  (never one max() over the whole vector);
- bands: extreme > 15, high 12-15, worth considering 10-12, low < 10; over-served when
  satisfaction > importance.

Nothing is rounded until presentation. Confidence intervals come from a bootstrap over
respondents. The statistic depends only on how many respondents fall in each of the four cells
(importance top box yes/no x satisfaction top box yes/no), so resampling respondents is exactly a
multinomial draw over those cells: the bootstrap costs the same for ten respondents or ten million.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from jobgraph.analytics.survey import Survey
from jobgraph.errors import UserError

ALL = "all"
SMALL_SAMPLE = 60

FloatArray = npt.NDArray[np.float64]


def opportunity(importance: npt.ArrayLike, satisfaction: npt.ArrayLike) -> FloatArray:
    """Element-wise ``importance + max(importance - satisfaction, 0)``."""
    imp = np.asarray(importance, dtype=np.float64)
    sat = np.asarray(satisfaction, dtype=np.float64)
    return imp + np.maximum(imp - sat, 0.0)


def band(value: float) -> str:
    if value > 15:
        return "extreme"
    if value >= 12:
        return "high"
    if value >= 10:
        return "worth considering"
    return "low"


@dataclass(frozen=True, slots=True)
class OutcomeScore:
    """Scores of one outcome in one segment (``segment == "all"`` for everyone)."""

    outcome_id: str
    segment: str
    n: int
    importance: float
    satisfaction: float
    opportunity: float
    opportunity_ci_low: float
    opportunity_ci_high: float
    band: str
    overserved: bool
    small_sample: bool
    n_partial: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoreTable:
    scores: list[OutcomeScore]
    segment_by: str | None
    n_boot: int
    seed: int
    confidence: float
    warnings: list[str]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.as_dict() for s in self.scores])

    def get(self, outcome_id: str, segment: str = ALL) -> OutcomeScore:
        for s in self.scores:
            if s.outcome_id == outcome_id and s.segment == segment:
                return s
        raise KeyError((outcome_id, segment))


def _cell_counts(
    survey: Survey, groups: npt.NDArray[np.int64], n_groups: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per group: counts of the 4 cells (imp top? x sat top?) and of partial answers.

    Entries whose group is negative (no segment value) are left out.
    """
    both = survey.rated_both() & (groups >= 0)
    imp_top = survey.importance >= survey.scale.top_box
    sat_top = survey.satisfaction >= survey.scale.top_box
    cell = imp_top.astype(np.int64) * 2 + sat_top.astype(np.int64)
    counts = np.bincount(groups[both] * 4 + cell[both], minlength=n_groups * 4)
    partial = (
        ~survey.rated_both()
        & (groups >= 0)
        & ~(np.isnan(survey.importance) & np.isnan(survey.satisfaction))
    )
    partials = np.bincount(groups[partial], minlength=n_groups)
    return counts.reshape(n_groups, 4), partials


def _counts(
    cells: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Respondents with both ratings, top-box importance and top-box satisfaction."""
    n = cells[..., :4].sum(axis=-1)
    return n, cells[..., 2] + cells[..., 3], cells[..., 1] + cells[..., 3]


def _from_cells(cells: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Importance, satisfaction and opportunity from cell counts (last axis: the 4 cells, and
    optionally a fifth of respondents who did not answer). Each value is one division of exact
    integers, so 15 is 15.0 and not 15.000000000000002."""
    n, imp_top, sat_top = _counts(cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        imp = 10.0 * imp_top / n
        sat = 10.0 * sat_top / n
        opp = 10.0 * (imp_top + np.maximum(imp_top - sat_top, 0)) / n
    return imp, sat, opp


def band_of_counts(n: int, imp_top: int, sat_top: int) -> str:
    """The band, decided on exact counts: opportunity = 10 * (i + max(i - s, 0)) / n."""
    num = imp_top + max(imp_top - sat_top, 0)
    if 2 * num > 3 * n:
        return "extreme"
    if 5 * num >= 6 * n:
        return "high"
    if num >= n:
        return "worth considering"
    return "low"


def _bootstrap(
    cells: npt.NDArray[np.int64],
    totals: npt.NDArray[np.int64],
    n_boot: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Bootstrap draws of opportunity per group, shape (groups, n_boot).

    Resampling the group's ``totals[g]`` respondents is a multinomial draw over five cells: the
    four answer cells and "did not rate both", so the number who answered varies as it would.
    """
    out = np.full((len(cells), n_boot), np.nan)
    for g, c in enumerate(cells):
        answered = int(c.sum())
        total = max(int(totals[g]), answered)
        if answered == 0:
            continue
        five = np.append(c, total - answered)
        draws = rng.multinomial(total, five / total, size=n_boot)
        out[g] = _from_cells(draws)[2]
    return out


def score(
    survey: Survey,
    *,
    segment_by: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    min_n: int = SMALL_SAMPLE,
) -> ScoreTable:
    """Score every outcome for everyone and, with ``segment_by``, for each segment."""
    if not 0 < confidence < 1:
        raise UserError("confidence must be between 0 and 1, e.g. 0.95")
    if n_boot < 100:
        raise UserError("use at least 100 bootstrap resamples (2000 is the default)")
    n_out = len(survey.outcome_ids)
    rng = np.random.default_rng(seed)
    everyone = np.full(n_out, survey.n_respondents, dtype=np.int64)
    plans: list[tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = [
        ([ALL], survey.outcome.astype(np.int64), everyone)
    ]
    warnings: list[str] = []
    if segment_by is not None:
        codes, seg_names = survey.segment_codes(segment_by)
        per_respondent = np.full(survey.n_respondents, -1, dtype=np.int64)
        per_respondent[survey.respondent] = codes
        sizes = np.bincount(per_respondent[per_respondent >= 0], minlength=len(seg_names))
        unknown = int((per_respondent < 0).sum())
        if unknown:
            warnings.append(
                f"{unknown} respondent(s) without a {segment_by} value are left out "
                "of the segment rows (they count in 'all')"
            )
        groups = np.where(codes >= 0, codes.astype(np.int64) * n_out + survey.outcome, -1)
        plans.append((seg_names, groups, np.repeat(sizes, n_out)))
    rows: list[OutcomeScore] = []
    alpha = (1 - confidence) / 2
    for names, groups, totals in plans:
        n_groups = n_out * len(names)
        cells, partials = _cell_counts(survey, groups, n_groups)
        imp, sat, opp = _from_cells(cells)
        n, imp_top, sat_top = _counts(cells)
        boots = _bootstrap(cells, totals, n_boot, rng)
        for g in range(n_groups):
            segment = names[g // n_out]
            outcome_id = survey.outcome_ids[g % n_out]
            if n[g] == 0:
                if segment == ALL:
                    warnings.append(f"{outcome_id}: nobody rated both importance and satisfaction")
                continue
            rows.append(
                OutcomeScore(
                    outcome_id=outcome_id,
                    segment=segment,
                    n=int(n[g]),
                    importance=float(imp[g]),
                    satisfaction=float(sat[g]),
                    opportunity=float(opp[g]),
                    opportunity_ci_low=float(np.quantile(boots[g], alpha)),
                    opportunity_ci_high=float(np.quantile(boots[g], 1 - alpha)),
                    band=band_of_counts(int(n[g]), int(imp_top[g]), int(sat_top[g])),
                    overserved=bool(sat_top[g] > imp_top[g]),
                    small_sample=bool(n[g] < min_n),
                    n_partial=int(partials[g]),
                )
            )
    for seg in dict.fromkeys(r.segment for r in rows if r.small_sample):
        worst = min(r.n for r in rows if r.segment == seg)
        where = "the whole survey" if seg == ALL else f"segment {segment_by}={seg}"
        warnings.append(
            f"{where}: only {worst} respondents on some outcomes (< {min_n}); "
            "treat its scores as indicative"
        )
    return ScoreTable(rows, segment_by, n_boot, seed, confidence, warnings)


@dataclass(frozen=True, slots=True)
class SegmentComparison:
    """Whether an outcome's opportunity differs between two segments."""

    outcome_id: str
    segment_by: str
    a: str
    b: str
    n_a: int
    n_b: int
    opportunity_a: float
    opportunity_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_segments(
    survey: Survey,
    outcome_id: str,
    segment_by: str,
    a: str,
    b: str,
    *,
    n_boot: int = 5000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SegmentComparison:
    """Difference in opportunity (a - b): bootstrap CI and a two-sided permutation p-value.

    Under the null hypothesis the segment labels are exchangeable, so A's cell counts are a
    multivariate hypergeometric draw from the pooled counts.
    """
    if outcome_id not in survey.outcome_ids:
        raise UserError(f"{survey.source}: no outcome {outcome_id!r} in the survey")
    codes, names = survey.segment_codes(segment_by)
    for seg in (a, b):
        if seg not in names:
            raise UserError(f"no segment {segment_by}={seg!r}; segments: {', '.join(names)}")
    j = survey.outcome_ids.index(outcome_id)
    mask = survey.outcome == j
    groups = codes.astype(np.int64)
    cells, _ = _cell_counts(survey, np.where(mask, groups, len(names)), len(names) + 1)
    ca, cb = cells[names.index(a)], cells[names.index(b)]
    if ca.sum() == 0 or cb.sum() == 0:
        raise UserError(f"{outcome_id}: one of the segments has no complete answers")
    rng = np.random.default_rng(seed)
    opp_a = float(_from_cells(ca)[2])
    opp_b = float(_from_cells(cb)[2])
    diff = opp_a - opp_b
    both = np.stack([ca, cb])
    boot = _bootstrap(both, both.sum(axis=1), n_boot, rng)
    diffs = boot[0] - boot[1]
    alpha = (1 - confidence) / 2
    pooled = ca + cb
    perm_a = rng.multivariate_hypergeometric(pooled, int(ca.sum()), size=n_boot)
    perm_diff = _from_cells(perm_a)[2] - _from_cells(pooled - perm_a)[2]
    extreme = np.count_nonzero(np.abs(perm_diff) >= abs(diff) - 1e-12)
    return SegmentComparison(
        outcome_id=outcome_id,
        segment_by=segment_by,
        a=a,
        b=b,
        n_a=int(ca.sum()),
        n_b=int(cb.sum()),
        opportunity_a=opp_a,
        opportunity_b=opp_b,
        difference=diff,
        ci_low=float(np.quantile(diffs, alpha)),
        ci_high=float(np.quantile(diffs, 1 - alpha)),
        p_value=float((extreme + 1) / (n_boot + 1)),
    )


def respondent_profiles(survey: Survey, outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-respondent opportunity (0-20) on each outcome, from ratings rescaled to 0-10.

    Rows: respondent ids; columns: outcome ids; NaN where a respondent did not rate both.
    """
    span = survey.scale.high - survey.scale.low
    imp = (survey.importance.astype(np.float64) - survey.scale.low) / span * 10
    sat = (survey.satisfaction.astype(np.float64) - survey.scale.low) / span * 10
    values = opportunity(imp, sat)
    grid = np.full((survey.n_respondents, len(survey.outcome_ids)), np.nan)
    grid[survey.respondent, survey.outcome] = values
    frame = pd.DataFrame(
        grid,
        index=pd.Index(survey.respondent_ids, name="respondent_id"),
        columns=list(survey.outcome_ids),
    )
    return frame[list(outcomes)] if outcomes is not None else frame
