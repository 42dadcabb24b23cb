"""Contact-driver discovery: cluster utterances no job explains into candidate jobs.

Utterances are embedded (MiniLM when the text extra is installed, otherwise TF-IDF reduced by
LSA), clustered by k-means for every k in a range, and the k with the best silhouette (cosine)
is kept; the silhouette of every k tried is reported. Each cluster is named from its
distinctive words (class-based TF-IDF) and shown with its most central utterances. On labelled
data the clustering is scored as in DSTC11 track 2: accuracy after a 1:1 Hungarian matching of
clusters to labels, NMI and ARI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from jobgraph.errors import UserError
from jobgraph.text.classifier import Stage, no_progress
from jobgraph.text.lexical import distinctive_terms


class Representation(StrEnum):
    EMBEDDING = "embedding"
    LEXICAL = "lexical"


@dataclass(frozen=True)
class Cluster:
    id: int
    size: int
    name: str
    terms: tuple[str, ...]
    central: tuple[str, ...]
    """The utterances closest to the cluster's centre, most central first."""
    members: tuple[int, ...]
    """Indices of the clustered utterances, most central first."""

    def as_dict(self, texts: Sequence[str] | None = None, max_examples: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "size": self.size,
            "name": self.name,
            "terms": list(self.terms),
            "central": list(self.central),
        }
        if texts is not None and max_examples:
            out["examples"] = [texts[i] for i in self.members[:max_examples]]
        return out


@dataclass(frozen=True)
class ClusterScores:
    """Agreement of a clustering with true labels, as DSTC11 track 2 reports it."""

    accuracy: float
    nmi: float
    ari: float
    n_labels: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "nmi": round(self.nmi, 4),
            "ari": round(self.ari, 4),
            "n_labels": self.n_labels,
        }


@dataclass(frozen=True)
class Discovery:
    clusters: tuple[Cluster, ...]
    assignments: np.ndarray
    k: int
    criterion: str
    criterion_by_k: dict[int, float]
    representation: Representation
    scores: ClusterScores | None = None

    def as_dict(self, texts: Sequence[str] | None = None, max_examples: int = 0) -> dict[str, Any]:
        return {
            "k": self.k,
            "criterion": self.criterion,
            "criterion_by_k": {str(k): round(v, 4) for k, v in self.criterion_by_k.items()},
            "representation": self.representation.value,
            "n": len(self.assignments),
            "scores": self.scores.as_dict() if self.scores else None,
            "clusters": [c.as_dict(texts, max_examples) for c in self.clusters],
        }

    def examples_of(self, cluster_id: int, texts: Sequence[str]) -> list[str]:
        """The utterances of one cluster, most central first: the examples of a promoted job."""
        for c in self.clusters:
            if c.id == cluster_id:
                return [texts[i] for i in c.members]
        raise UserError(
            f"no cluster {cluster_id}; the clusters are numbered 0 to {len(self.clusters) - 1}"
        )


def draft_job(
    discovery: Discovery,
    cluster_id: int,
    texts: Sequence[str],
    *,
    job_id: str | None = None,
    max_examples: int = 10,
    source: str = "discovery",
) -> dict[str, Any]:
    """The data of a draft job for one cluster: named after it, with its most central distinct
    utterances as examples. Its statement is a placeholder the linter flags until rewritten."""
    if max_examples < 1:
        raise UserError(f"a promoted job needs at least one example, not {max_examples}")
    cluster = next((c for c in discovery.clusters if c.id == cluster_id), None)
    if cluster is None:
        raise UserError(
            f"no cluster {cluster_id}; the clusters are numbered 0 to {len(discovery.clusters) - 1}"
        )
    seen: set[str] = set()
    examples: list[str] = []
    for text in discovery.examples_of(cluster_id, texts):
        key = " ".join(text.casefold().split())
        if key and key not in seen:
            seen.add(key)
            examples.append(" ".join(text.split()))
        if len(examples) == max_examples:
            break
    title = cluster.name.replace(" / ", ", ")
    data: dict[str, Any] = {
        "title": title[:1].upper() + title[1:],
        "statement": (
            f"Draft from the discovered contact driver '{cluster.name}': rewrite as "
            "When <circumstance>, I want to <progress>, so I can <benefit>."
        ),
        "description": (
            f"Promoted from cluster {cluster.id} of {len(discovery.assignments)} utterances in "
            f"{source} ({cluster.size} utterances; distinctive words: "
            f"{', '.join(cluster.terms)})."
        ),
        "tags": ["discovered"],
        "examples": examples,
    }
    if job_id is not None:
        data["id"] = job_id
    else:
        data["kind"] = "job"
    return data


def hungarian_accuracy(truth: Sequence[str], clusters: Sequence[int]) -> float:
    """Accuracy after matching clusters to labels one-to-one so as to maximise agreement."""
    labels = sorted(set(truth))
    ids = sorted(set(clusters))
    li = {label: i for i, label in enumerate(labels)}
    ci = {c: i for i, c in enumerate(ids)}
    table = np.zeros((len(ids), len(labels)), dtype=np.int64)
    for t, c in zip(truth, clusters, strict=True):
        table[ci[c], li[t]] += 1
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / max(len(truth), 1))


def score_clusters(truth: Sequence[str], clusters: Sequence[int]) -> ClusterScores:
    return ClusterScores(
        accuracy=hungarian_accuracy(truth, clusters),
        nmi=float(normalized_mutual_info_score(truth, clusters)),
        ari=float(adjusted_rand_score(truth, clusters)),
        n_labels=len(set(truth)),
    )


def represent(
    texts: Sequence[str], representation: Representation, stage: Stage = no_progress
) -> np.ndarray:
    """Unit-length vectors for the utterances."""
    match representation:
        case Representation.EMBEDDING:
            from jobgraph.text.embed import MiniLMEncoder

            return MiniLMEncoder().encode(texts, progress=stage("embedding", len(texts)))
        case Representation.LEXICAL:
            from sklearn.decomposition import TruncatedSVD
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.preprocessing import normalize

            # content words only: greetings and fillers would otherwise make the clusters
            try:
                x = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
            except ValueError:  # nothing but stop words: keep every word, even "a" and "I"
                # a word: one or more word characters, e.g. "a", "pin", "2fa"
                x = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b").fit_transform(texts)
            dims = max(2, min(100, x.shape[1] - 1, len(texts) - 1))
            reduced = TruncatedSVD(dims, random_state=0).fit_transform(x)
            return np.asarray(normalize(reduced), dtype=np.float32)


def discover(
    texts: Sequence[str],
    k: int | None = None,
    k_range: tuple[int, int] | None = None,
    representation: Representation | None = None,
    labels: Sequence[str] | None = None,
    seed: int = 0,
    stage: Stage = no_progress,
    vectors: np.ndarray | None = None,
) -> Discovery:
    """Cluster ``texts`` into candidate jobs; choose k by silhouette unless ``k`` is given."""
    from jobgraph.text.embed import torch_available

    n = len(texts)
    if n < 4:
        raise UserError(f"discovery needs at least 4 utterances, got {n}")
    for i, text in enumerate(texts):
        if not text.strip():
            raise UserError(f"utterance {i + 1} is empty; remove it before discovery")
    if representation is None:
        representation = Representation.EMBEDDING if torch_available() else Representation.LEXICAL
    x = vectors if vectors is not None else represent(texts, representation, stage)
    low, high = k_range or (2, max(2, min(60, n // 8)))
    if k is not None:
        if not 2 <= k < n:
            raise UserError(f"--k must be between 2 and {n - 1} (the utterances), not {k}")
        candidates = [k]
    else:
        if not 2 <= low <= high < n:
            raise UserError(f"--k-min/--k-max must satisfy 2 <= min <= max < {n}")
        candidates = list(range(low, high + 1))
    advance = stage("clustering", len(candidates))
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    by_k: dict[int, float] = {}
    sample = min(n, 4000)
    for kk in candidates:
        km = KMeans(kk, n_init=4, random_state=seed).fit(x)
        if len(set(km.labels_)) < 2:
            by_k[kk] = -1.0
        else:
            by_k[kk] = float(
                silhouette_score(
                    x, km.labels_, metric="cosine", sample_size=sample, random_state=seed
                )
            )
        if best is None or by_k[kk] > best[0]:
            best = (by_k[kk], kk, km.labels_.copy(), km.cluster_centers_.copy())
        advance(1)
    assert best is not None
    _, chosen, assign, centres = best
    clusters, renumber = _describe(texts, x, assign, centres)
    assign = np.array([renumber[int(c)] for c in assign])
    scores = score_clusters(labels, assign.tolist()) if labels is not None else None
    return Discovery(
        clusters=clusters,
        assignments=assign,
        k=chosen,
        criterion="silhouette (cosine)" if k is None else "fixed k",
        criterion_by_k=by_k,
        representation=representation,
        scores=scores,
    )


def _describe(
    texts: Sequence[str], x: np.ndarray, assign: np.ndarray, centres: np.ndarray
) -> tuple[tuple[Cluster, ...], dict[int, int]]:
    """Name and order the clusters, largest first; also the old id -> new id map."""
    ids = [int(c) for c in np.unique(assign)]
    groups = [[texts[int(i)] for i in np.flatnonzero(assign == c)] for c in ids]
    terms = distinctive_terms(groups, top=5)
    out = []
    for c, words in zip(ids, terms, strict=True):
        members = np.flatnonzero(assign == c)
        centre = centres[c] / max(float(np.linalg.norm(centres[c])), 1e-12)
        order = members[np.argsort(-(x[members] @ centre))]
        out.append(
            Cluster(
                id=c,
                size=len(members),
                name=" / ".join(words[:3]) or texts[int(order[0])][:40],
                terms=tuple(words),
                central=tuple(texts[int(i)] for i in order[:3]),
                members=tuple(int(i) for i in order),
            )
        )
    out.sort(key=lambda cl: -cl.size)
    renumber = {cl.id: i for i, cl in enumerate(out)}
    clusters = tuple(
        Cluster(renumber[cl.id], cl.size, cl.name, cl.terms, cl.central, cl.members) for cl in out
    )
    return clusters, renumber
