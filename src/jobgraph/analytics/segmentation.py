"""Outcome-based segmentation: groups of respondents for whom different outcomes are underserved.

Ulwick's outcome-driven innovation segments customers by *which outcomes are underserved for
them*, not by who they are: each respondent's opportunity profile (one 0-20 score per outcome,
``importance + max(importance - satisfaction, 0)``) is clustered, and a segment is then described by
the outcomes it needs far more than everyone else, its size, and only afterwards by the attributes
(region, persona...) its members happen to share.

Method, and why:

- Missing answers are imputed with the outcome's mean over the respondents who answered it. This
  pulls a partial respondent towards the centre rather than inventing a position; segment
  descriptions use answered values only, so imputation never shows up in what is reported.
  Respondents who answered nothing get no segment (a missing assignment) and a warning.
- No standardisation: every outcome is on the same 0-20 opportunity scale, where a gap of five
  points means the same on every outcome. Standardising would blow up outcomes on which everybody
  agrees (small variance) and let their noise drive the clusters.
- k-means (``n_init=10``) for each k in ``k_min..k_max`` on at most ``max_fit_rows`` respondents (a
  seeded subsample on big surveys); everyone is then assigned to the nearest centre.
- Separation: mean silhouette on a seeded sample of at most 5,000 fitted respondents.
- Stability, as Hennig's ``clusterboot`` (fpc): on at most ``max_boot_rows`` fitted respondents,
  draw ``n_boot`` bootstrap resamples, keep each drawn respondent once, refit k-means with the same
  k and settings, and score every original cluster by its best Jaccard similarity with a bootstrap
  cluster over the respondents present in both; the mean over resamples is the cluster's stability:
  >= 0.75 stable, 0.6-0.75 weak, < 0.6 not to be trusted (Hennig 2007, *Cluster-wise assessment of
  cluster stability*).
- Choice of k: the highest silhouette among the k whose every cluster is stable (verdict
  "stable"); failing that, among those whose weakest cluster is at least weak (verdict "weak");
  failing that, no segments (verdict "none"). A silhouette below 0.1 disqualifies a k however
  stable it is: k-means cuts structureless data the same way on every resample (a uniform cloud
  has reproducible halves), so stability alone is no evidence that segments exist.

Known limit: with few outcomes a structureless cloud passes both tests. Uniform noise on 500
respondents reaches a silhouette of 0.4 on two outcomes, 0.16 on five and 0.1 on eight, with
reproducible cuts; from ten outcomes on it stays below the floor. Segments found on fewer than
ten outcomes therefore carry a warning, as do segments smaller than ``odi.SMALL_SAMPLE``.

Everything is deterministic for a given ``seed``, and the result for one k does not depend on
which other k were tried.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import hypergeom
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

from jobgraph.analytics.odi import SMALL_SAMPLE
from jobgraph.errors import UserError

__all__ = [
    "AttributeLift",
    "KCandidate",
    "OutcomeGap",
    "Segment",
    "SegmentationError",
    "SegmentationResult",
    "Stability",
    "Verdict",
    "segment_respondents",
    "stability_of",
]

STABLE_AT: Final = 0.75
WEAK_AT: Final = 0.6
SILHOUETTE_FLOOR: Final = 0.1
SILHOUETTE_ROWS: Final = 5_000
N_INIT: Final = 10
MIN_BOOT: Final = 10
TOP_OUTCOMES: Final = 5
LIFT_AT: Final = 1.2
LIFT_P: Final = 0.01
OPPORTUNITY_MAX: Final = 20.0
FEW_OUTCOMES: Final = 10

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class SegmentationError(UserError, ValueError):
    """The opportunity profiles cannot be segmented as given."""


class Verdict(StrEnum):
    STABLE = "stable"
    WEAK = "weak"
    NONE = "none"


class Stability(StrEnum):
    STABLE = "stable"
    WEAK = "weak"
    UNRELIABLE = "unreliable"


def stability_of(jaccard: float) -> Stability:
    """Hennig's reading of a cluster's mean bootstrap Jaccard similarity."""
    if jaccard >= STABLE_AT:
        return Stability.STABLE
    if jaccard >= WEAK_AT:
        return Stability.WEAK
    return Stability.UNRELIABLE


class OutcomeGap(NamedTuple):
    """How much more underserved an outcome is for a segment than for everyone else."""

    outcome_id: str
    segment_mean: float
    others_mean: float
    difference: float


@dataclass(frozen=True, slots=True)
class AttributeLift:
    """An attribute value over-represented in a segment.

    ``lift`` is the segment's share over the overall share; ``p_value`` is the hypergeometric
    chance of at least this many members with the value if members were drawn at random, so a
    high lift on a handful of people is not reported as a finding.
    """

    attribute: str
    value: str
    segment_share: float
    overall_share: float
    lift: float
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class KCandidate:
    """One k that was tried; ``mean_jaccard`` lists its clusters from largest to smallest."""

    k: int
    silhouette: float
    mean_jaccard: list[float]
    min_jaccard: float
    stable: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Segment:
    """A group of respondents, described by what is underserved for it, then by who is in it.

    ``attribute_mix`` gives, per attribute, each value's share among the members whose value is
    known; ``over_represented`` lists the values with lift >= 1.2 and p < 0.01, highest lift first.
    """

    label: str
    size: int
    share: float
    jaccard: float
    stability: Stability
    top_outcomes: list[OutcomeGap]
    attribute_mix: dict[str, dict[str, float]]
    over_represented: list[AttributeLift]

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "size": self.size,
            "share": self.share,
            "jaccard": self.jaccard,
            "stability": self.stability.value,
            "top_outcomes": [gap._asdict() for gap in self.top_outcomes],
            "attribute_mix": {a: dict(mix) for a, mix in self.attribute_mix.items()},
            "over_represented": [lift.as_dict() for lift in self.over_represented],
        }


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """The segmentation, or the finding that there is none worth reporting.

    ``assignments`` maps every respondent id to a segment label (``S1`` is the largest segment);
    it is missing for respondents who answered nothing and for everyone when ``verdict`` is
    "none". Compare results through :meth:`as_dict`: the pandas field has no single truth value.
    """

    chosen_k: int | None
    verdict: Verdict
    message: str
    candidates: list[KCandidate]
    segments: list[Segment]
    assignments: pd.Series
    n_respondents: int
    n_used_for_fit: int
    n_boot: int
    seed: int
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen_k": self.chosen_k,
            "verdict": self.verdict.value,
            "message": self.message,
            "candidates": [c.as_dict() for c in self.candidates],
            "segments": [s.as_dict() for s in self.segments],
            "assignments": {
                str(rid): (None if pd.isna(label) else str(label))
                for rid, label in self.assignments.items()
            },
            "n_respondents": self.n_respondents,
            "n_used_for_fit": self.n_used_for_fit,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class _Fit:
    """k-means at one k: everyone's cluster, and the clusters ordered largest first."""

    k: int
    assigned: IntArray
    order: IntArray
    jaccard: FloatArray
    silhouette: float

    def candidate(self) -> KCandidate:
        ordered = [float(j) for j in self.jaccard[self.order]]
        low = min(ordered)
        return KCandidate(self.k, self.silhouette, ordered, low, low >= STABLE_AT)


def segment_respondents(
    profiles: pd.DataFrame,
    attributes: pd.DataFrame | None = None,
    *,
    k_min: int = 2,
    k_max: int = 6,
    n_boot: int = 50,
    seed: int = 0,
    max_fit_rows: int = 20_000,
    max_boot_rows: int = 5_000,
) -> SegmentationResult:
    """Segment respondents by their opportunity profiles, or report that no segments hold up.

    ``profiles``: one row per respondent (index: respondent id), one column per outcome id, the
    respondent's opportunity 0-20, NaN where not answered (as ``odi.respondent_profiles``).
    ``attributes``: categorical columns on the same index (a subset of respondents is fine), used
    only to describe the segments. Fitting uses at most ``max_fit_rows`` respondents and the
    bootstrap at most ``max_boot_rows`` of those; everybody is assigned afterwards.
    """
    _check_settings(k_min, k_max, n_boot, seed, max_fit_rows, max_boot_rows)
    _check_attributes(attributes)
    raw, outcome_ids, notes = _checked_profiles(profiles, k_min)
    answered = ~np.isnan(raw).all(axis=1)
    n_answered = int(answered.sum())
    if n_answered < 2 * k_min:
        raise SegmentationError(
            f"only {n_answered} respondents answered any outcome; segmenting into at least "
            f"{k_min} groups needs at least {2 * k_min}"
        )
    if n_answered < len(raw):
        notes.append(f"no segment for {_respondents(len(raw) - n_answered)} who answered nothing")
    observed = raw[answered]
    x_all = _imputed(observed)
    if attributes is not None:
        unknown = int((~profiles.index[answered].isin(attributes.index)).sum())
        if unknown:
            notes.append(f"no attributes for {_respondents(unknown)}; attribute shares omit them")

    sample_rng = np.random.default_rng([seed, 0])
    fit_rows = _subsample(len(x_all), max_fit_rows, sample_rng)
    x_fit = np.ascontiguousarray(x_all[fit_rows])
    boot_rows = _subsample(len(x_fit), max_boot_rows, sample_rng)

    ks = _feasible_ks(x_fit, k_min, k_max, notes)
    fits = [_evaluate(x_fit, x_all, boot_rows, k, seed, n_boot) for k in ks]
    candidates = [f.candidate() for f in fits]
    chosen, verdict, message = _choose(candidates, k_min, k_max, n_boot, n_answered)

    labels = np.full(len(raw), None, dtype=object)
    segments: list[Segment] = []
    if chosen is not None:
        fit = fits[ks.index(chosen.k)]
        rank = np.empty(fit.k, dtype=np.int64)
        rank[fit.order] = np.arange(fit.k)
        seg = rank[fit.assigned]
        labels[answered] = np.array([f"S{i + 1}" for i in range(fit.k)], dtype=object)[seg]
        member_ids = profiles.index[answered]
        segments = _describe(observed, seg, chosen, outcome_ids, attributes, member_ids)
        notes.extend(_caveats(segments, len(outcome_ids)))
    assignments = pd.Series(labels, index=profiles.index, name="segment", dtype="str")
    return SegmentationResult(
        chosen_k=None if chosen is None else chosen.k,
        verdict=verdict,
        message=message,
        candidates=candidates,
        segments=segments,
        assignments=assignments,
        n_respondents=len(raw),
        n_used_for_fit=len(fit_rows),
        n_boot=n_boot,
        seed=seed,
        warnings=notes,
    )


def _respondents(n: int) -> str:
    return f"{n} respondent" if n == 1 else f"{n} respondents"


def _check_settings(
    k_min: int, k_max: int, n_boot: int, seed: int, max_fit_rows: int, max_boot_rows: int
) -> None:
    if k_min < 2:
        raise SegmentationError(f"k_min must be at least 2 (got {k_min}): one segment is everyone")
    if k_max < k_min:
        raise SegmentationError(f"k_max ({k_max}) must be at least k_min ({k_min})")
    if n_boot < MIN_BOOT:
        raise SegmentationError(
            f"use at least {MIN_BOOT} bootstrap resamples (got {n_boot}; 50 is the default)"
        )
    if seed < 0:
        raise SegmentationError(f"seed must be a non-negative integer (got {seed})")
    for name, rows in (("max_fit_rows", max_fit_rows), ("max_boot_rows", max_boot_rows)):
        if rows < 2 * k_max:
            raise SegmentationError(
                f"{name} ({rows}) must allow at least two respondents per cluster "
                f"at k_max={k_max}, i.e. at least {2 * k_max}"
            )


def _check_attributes(attributes: pd.DataFrame | None) -> None:
    if attributes is None:
        return
    if not isinstance(attributes, pd.DataFrame):
        raise SegmentationError("attributes must be a pandas DataFrame indexed by respondent id")
    if attributes.index.has_duplicates:
        dupes = sorted({str(r) for r in attributes.index[attributes.index.duplicated()]})
        raise SegmentationError(f"duplicate respondent ids in attributes: {', '.join(dupes[:5])}")


def _checked_profiles(
    profiles: pd.DataFrame, k_min: int
) -> tuple[FloatArray, list[str], list[str]]:
    """The profile values as floats, the outcome ids kept, and notes on what was dropped."""
    if not isinstance(profiles, pd.DataFrame):
        raise SegmentationError(
            "profiles must be a pandas DataFrame: one row per respondent, one column per outcome"
        )
    if profiles.index.has_duplicates:
        dupes = sorted({str(r) for r in profiles.index[profiles.index.duplicated()]})
        raise SegmentationError(f"duplicate respondent ids in profiles: {', '.join(dupes[:5])}")
    if profiles.columns.has_duplicates:
        raise SegmentationError("duplicate outcome columns in profiles")
    if profiles.shape[1] < 2:
        raise SegmentationError(
            f"profiles has {profiles.shape[1]} outcome column(s); segmenting by outcomes needs "
            "at least two"
        )
    if len(profiles) < 2 * k_min:
        raise SegmentationError(
            f"profiles has {len(profiles)} respondents; segmenting into at least {k_min} groups "
            f"needs at least {2 * k_min}"
        )
    try:
        raw = profiles.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SegmentationError(
            "profiles must hold numbers (opportunity 0-20) or NaN for unanswered outcomes"
        ) from exc
    known = raw[~np.isnan(raw)]
    if known.size and not (
        np.isfinite(known).all() and known.min() >= 0 and known.max() <= OPPORTUNITY_MAX
    ):
        raise SegmentationError(
            f"profile values must be opportunity scores between 0 and {OPPORTUNITY_MAX:g} "
            f"(found {known.min():g} to {known.max():g}); build them with "
            "odi.respondent_profiles"
        )
    outcome_ids = [str(c) for c in profiles.columns]
    notes: list[str] = []
    empty = np.isnan(raw).all(axis=0)
    if empty.any():
        dropped = [o for o, e in zip(outcome_ids, empty, strict=True) if e]
        notes.append(f"outcomes nobody answered were left out: {', '.join(dropped)}")
        raw = raw[:, ~empty]
        outcome_ids = [o for o, e in zip(outcome_ids, empty, strict=True) if not e]
    if len(outcome_ids) < 2:
        raise SegmentationError(
            f"only {len(outcome_ids)} outcome(s) have any answers; segmenting by outcomes "
            "needs at least two"
        )
    return raw, outcome_ids, notes


def _imputed(observed: FloatArray) -> Float32Array:
    """Missing answers replaced by the outcome's mean over those who answered it.

    Single precision: k-means runs about three times faster on it, and opportunity scores carry
    far fewer than its seven significant digits.
    """
    means = np.nanmean(observed, axis=0)
    filled = np.where(np.isnan(observed), means, observed)
    return np.ascontiguousarray(filled, dtype=np.float32)


def _subsample(n: int, limit: int, rng: np.random.Generator) -> IntArray:
    """Sorted row positions: all ``n`` rows, or a seeded sample of ``limit`` of them."""
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=limit, replace=False)).astype(np.int64)


def _feasible_ks(x_fit: Float32Array, k_min: int, k_max: int, notes: list[str]) -> list[int]:
    """The k that can be fitted: two respondents per cluster and as many distinct profiles."""
    n_distinct = len(np.unique(x_fit, axis=0))
    top = min(k_max, len(x_fit) // 2, n_distinct)
    if top < k_max:
        notes.append(
            f"k above {top} not tried: {len(x_fit)} respondents with {n_distinct} distinct "
            "profiles cannot fill more clusters"
        )
    return list(range(k_min, top + 1))


def _kmeans(x: Float32Array, k: int, rng: np.random.Generator) -> Any:
    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=int(rng.integers(2**31 - 1)))
    with warnings.catch_warnings():
        # duplicated profiles in a resample can leave fewer distinct points than k
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x)


def _evaluate(
    x_fit: Float32Array, x_all: Float32Array, boot_rows: IntArray, k: int, seed: int, n_boot: int
) -> _Fit:
    rng = np.random.default_rng([seed, 1, k])
    model = _kmeans(x_fit, k, rng)
    labels = np.asarray(model.labels_, dtype=np.int64)
    assigned = np.asarray(model.predict(x_all), dtype=np.int64)
    order = np.argsort(-np.bincount(assigned, minlength=k), kind="stable").astype(np.int64)
    return _Fit(
        k=k,
        assigned=assigned,
        order=order,
        jaccard=_stability(x_fit[boot_rows], labels[boot_rows], k, n_boot, rng),
        silhouette=_silhouette(x_fit, labels, rng),
    )


def _silhouette(x: Float32Array, labels: IntArray, rng: np.random.Generator) -> float:
    rows = _subsample(len(x), SILHOUETTE_ROWS, rng)
    n_labels = len(np.unique(labels[rows]))
    if not 2 <= n_labels <= len(rows) - 1:
        return 0.0  # the sample cannot show separation, so claim none
    return float(silhouette_score(x[rows], labels[rows]))


def _stability(
    x: Float32Array, labels: IntArray, k: int, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    """Mean over resamples of each cluster's best Jaccard with a cluster of the refit."""
    m = len(x)
    best = np.full((n_boot, k), np.nan)
    for b in range(n_boot):
        drawn = np.unique(rng.integers(0, m, size=m))
        if len(drawn) < k:
            continue
        refit = np.asarray(_kmeans(x[drawn], k, rng).labels_, dtype=np.int64)
        both = np.bincount(labels[drawn] * k + refit, minlength=k * k).reshape(k, k)
        union = both.sum(axis=1)[:, None] + both.sum(axis=0)[None, :] - both
        jaccard = np.divide(both, union, out=np.zeros((k, k)), where=union > 0)
        present = both.sum(axis=1) > 0
        best[b, present] = jaccard.max(axis=1)[present]
    counted = ~np.isnan(best)
    totals = np.where(counted, best, 0.0).sum(axis=0)
    # a cluster never seen in a resample has shown no stability at all
    means: FloatArray = np.zeros(k)
    np.divide(totals, counted.sum(axis=0), out=means, where=counted.any(axis=0))
    return means


def _choose(
    candidates: Sequence[KCandidate], k_min: int, k_max: int, n_boot: int, n: int
) -> tuple[KCandidate | None, Verdict, str]:
    k_range = f"k = {k_min}-{k_max}" if k_max > k_min else f"k = {k_min}"
    separated = [c for c in candidates if c.silhouette >= SILHOUETTE_FLOOR]
    stable = [c for c in separated if c.min_jaccard >= STABLE_AT]
    weak = [c for c in separated if c.min_jaccard >= WEAK_AT]
    if stable:
        best = max(stable, key=lambda c: (c.silhouette, -c.k))
        return (
            best,
            Verdict.STABLE,
            f"{best.k} stable segments: k={best.k} has the highest silhouette "
            f"({best.silhouette:.2f}) among the k whose every segment is stable (mean bootstrap "
            f"Jaccard >= {STABLE_AT} over {n_boot} resamples; weakest segment "
            f"{best.min_jaccard:.2f}).",
        )
    if weak:
        best = max(weak, key=lambda c: (c.silhouette, -c.k))
        return (
            best,
            Verdict.WEAK,
            f"{best.k} tentative segments: no k in {k_min}-{k_max} kept every segment at mean "
            f"bootstrap Jaccard >= {STABLE_AT}; k={best.k} has the highest silhouette "
            f"({best.silhouette:.2f}) among those whose weakest segment stays >= {WEAK_AT} "
            f"({best.min_jaccard:.2f}). Treat segments marked weak as hypotheses to check with "
            "more data.",
        )
    return None, Verdict.NONE, _no_structure(candidates, k_range, n)


def _no_structure(candidates: Sequence[KCandidate], k_range: str, n: int) -> str:
    head = f"No stable segment structure among {n} respondents for {k_range}"
    tail = (
        "Report outcome scores for everyone, or by known attributes, rather than inventing "
        "segments."
    )
    if not candidates:
        return f"{head}: too few distinct opportunity profiles to form clusters. {tail}"
    sharpest = max(candidates, key=lambda c: (c.silhouette, -c.k))
    steadiest = max(candidates, key=lambda c: (c.min_jaccard, -c.k))
    reasons = [
        f"the best silhouette is {sharpest.silhouette:.2f} (k={sharpest.k}; below "
        f"{SILHOUETTE_FLOOR} the groups are not separated)",
        f"the most stable split (k={steadiest.k}) has its weakest segment at mean bootstrap "
        f"Jaccard {steadiest.min_jaccard:.2f} (below {WEAK_AT} segments change from resample "
        "to resample)",
    ]
    if steadiest.min_jaccard >= WEAK_AT:
        reasons[1] = (
            f"k={steadiest.k} is reproducible (weakest segment Jaccard "
            f"{steadiest.min_jaccard:.2f}) but not separated (silhouette "
            f"{steadiest.silhouette:.2f}): k-means cuts even structureless data the same way "
            "every time"
        )
    return f"{head}: {'; '.join(reasons)}. {tail}"


def _caveats(segments: Sequence[Segment], n_outcomes: int) -> list[str]:
    notes = []
    if n_outcomes < FEW_OUTCOMES:
        notes.append(
            f"only {n_outcomes} outcomes: below {FEW_OUTCOMES}, k-means finds separated, "
            "reproducible groups even in structureless data; confirm these segments against "
            "something known before acting on them"
        )
    notes.extend(
        f"segment {s.label} has only {_respondents(s.size)} (< {SMALL_SAMPLE}); "
        "treat its description as indicative"
        for s in segments
        if s.size < SMALL_SAMPLE
    )
    return notes


def _describe(
    observed: FloatArray,
    seg: IntArray,
    chosen: KCandidate,
    outcome_ids: list[str],
    attributes: pd.DataFrame | None,
    member_ids: pd.Index,
) -> list[Segment]:
    k = chosen.k
    gaps = _outcome_gaps(observed, seg, k, outcome_ids)
    mixes = _attribute_mixes(attributes, member_ids, seg, k)
    sizes = np.bincount(seg, minlength=k)
    return [
        Segment(
            label=f"S{i + 1}",
            size=int(sizes[i]),
            share=float(sizes[i] / len(seg)),
            jaccard=chosen.mean_jaccard[i],
            stability=stability_of(chosen.mean_jaccard[i]),
            top_outcomes=gaps[i],
            attribute_mix=mixes[i][0],
            over_represented=mixes[i][1],
        )
        for i in range(k)
    ]


def _outcome_gaps(
    observed: FloatArray, seg: IntArray, k: int, outcome_ids: list[str]
) -> list[list[OutcomeGap]]:
    """Per segment, the outcomes most underserved compared with everyone else (answers only)."""
    answered = ~np.isnan(observed)
    values = np.where(answered, observed, 0.0)
    member = np.zeros((len(seg), k))
    member[np.arange(len(seg)), seg] = 1.0
    seg_sum = member.T @ values
    seg_n = member.T @ answered.astype(np.float64)
    other_sum = values.sum(axis=0) - seg_sum
    other_n = answered.sum(axis=0) - seg_n
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_mean = seg_sum / seg_n
        other_mean = other_sum / other_n
    diff = seg_mean - other_mean
    result: list[list[OutcomeGap]] = []
    for i in range(k):
        ranked = [j for j in np.argsort(-diff[i], kind="stable") if diff[i, j] > 0]
        result.append(
            [
                OutcomeGap(
                    outcome_ids[j],
                    float(seg_mean[i, j]),
                    float(other_mean[i, j]),
                    float(diff[i, j]),
                )
                for j in ranked[:TOP_OUTCOMES]
            ]
        )
    return result


def _attribute_mixes(
    attributes: pd.DataFrame | None, member_ids: pd.Index, seg: IntArray, k: int
) -> list[tuple[dict[str, dict[str, float]], list[AttributeLift]]]:
    """Per segment, each attribute's value shares and the values over-represented in it."""
    result: list[tuple[dict[str, dict[str, float]], list[AttributeLift]]] = [
        ({}, []) for _ in range(k)
    ]
    if attributes is None:
        return result
    aligned = attributes.reindex(member_ids)
    for column in aligned.columns:
        series = aligned[column]
        known = series.notna().to_numpy()
        if not known.any():
            continue
        values = np.array([str(v) for v in series[known]], dtype=object)
        groups = seg[known]
        names, codes = np.unique(values, return_inverse=True)
        overall = np.bincount(codes, minlength=len(names))
        total = int(overall.sum())
        for i in range(k):
            counts = np.bincount(codes[groups == i], minlength=len(names))
            n_seg = int(counts.sum())
            if n_seg == 0:
                continue
            order = np.argsort(-counts, kind="stable")
            result[i][0][str(column)] = {
                str(names[v]): float(counts[v] / n_seg) for v in order if counts[v]
            }
            for v in order:
                seg_share = counts[v] / n_seg
                overall_share = overall[v] / total
                lift = seg_share / overall_share
                if lift < LIFT_AT:
                    continue
                p = float(hypergeom.sf(counts[v] - 1, total, overall[v], n_seg))
                if p < LIFT_P:
                    result[i][1].append(
                        AttributeLift(
                            str(column),
                            str(names[v]),
                            float(seg_share),
                            float(overall_share),
                            float(lift),
                            p,
                        )
                    )
    for _, lifts in result:
        lifts.sort(key=lambda lift: -lift.lift)
    return result
