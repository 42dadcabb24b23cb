"""Metric math, k-shot curves, and discovery (clustering, naming, DSTC11-style scores)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.text.conftest import JOBS, needs_torch, synthetic

from jobgraph.errors import UserError
from jobgraph.text import Method, TrainSettings, split
from jobgraph.text.classifier import Prediction
from jobgraph.text.discovery import Representation, discover, hungarian_accuracy, score_clusters
from jobgraph.text.evaluate import expected_calibration_error, learning_curve, score


def preds(labels: list[str], conf: list[float]) -> list[Prediction]:
    return [Prediction(label, c, c < 0.5, "m") for label, c in zip(labels, conf, strict=True)]


def test_score_reports_accuracy_f1_coverage_and_confusions() -> None:
    truth = ["a", "a", "b", "b", "c"]
    guess = ["a", "b", "b", "b", "a"]
    result = score(preds(guess, [0.9, 0.4, 0.8, 0.7, 0.3]), truth, threshold=0.5)
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.coverage == pytest.approx(3 / 5)
    assert result.covered_accuracy == pytest.approx(1.0)
    assert result.per_label["b"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert result.confusions[0] == {"true": "a", "predicted": "b", "count": 1}
    assert result.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert result.as_dict()["n"] == 5


def test_parent_level_accuracy() -> None:
    parents = {"a": "X", "b": "X", "c": "Y"}
    result = score(preds(["b", "a", "c"], [0.9] * 3), ["a", "b", "c"], 0.5, parents)
    assert result.accuracy == 1 / 3
    assert result.parent_accuracy == 1.0


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200))
def test_ece_is_between_zero_and_one(pairs: list[tuple[float, bool]]) -> None:
    conf = np.array([c for c, _ in pairs])
    hit = np.array([h for _, h in pairs])
    assert 0.0 <= expected_calibration_error(conf, hit) <= 1.0


@given(st.lists(st.sampled_from("abcd"), min_size=2, max_size=60), st.permutations(range(4)))
def test_hungarian_accuracy_ignores_cluster_names(truth: list[str], perm: list[int]) -> None:
    clusters = [perm["abcd".index(t)] for t in truth]
    assert hungarian_accuracy(truth, clusters) == 1.0
    scores = score_clusters(truth, clusters)
    assert scores.ari == pytest.approx(1.0) or len(set(truth)) == 1


def test_hungarian_is_one_to_one() -> None:
    # one cluster cannot be matched to two labels: at most 2 of 4 right
    assert hungarian_accuracy(["a", "a", "b", "b"], [0, 0, 0, 0]) == 0.5


def test_learning_curve_over_k_and_seeds() -> None:
    train_set, test_set = split(synthetic(per_label=16), 0.25, seed=0)
    points = learning_curve(
        train_set, test_set, TrainSettings(method=Method.LEXICAL), ks=(3, None), seeds=(0, 1)
    )
    assert [p.k for p in points] == [3, None]
    assert points[0].seeds == (0, 1) and points[1].seeds == (0,)
    assert points[1].as_dict()["accuracy"]["mean"] >= 0.9


def test_discovery_finds_and_names_the_jobs() -> None:
    ex = synthetic(per_label=15)
    found = discover(
        list(ex.texts), k_range=(2, 8), representation=Representation.LEXICAL, labels=ex.labels
    )
    assert set(found.criterion_by_k) == set(range(2, 9))
    assert found.criterion == "silhouette (cosine)"
    assert found.criterion_by_k[found.k] == max(found.criterion_by_k.values())
    assert found.scores is not None and found.scores.nmi > 0.3
    biggest = found.clusters[0]
    assert biggest.size == max(c.size for c in found.clusters)
    assert biggest.terms and biggest.central[0] in ex.texts
    assert sorted(found.assignments.tolist()) == sorted(
        c.id for c in found.clusters for _ in range(c.size)
    )


def test_discovery_with_fixed_k_and_promotion_examples() -> None:
    ex = synthetic(per_label=15)
    texts = list(ex.texts)
    found = discover(texts, k=4, representation=Representation.LEXICAL, labels=ex.labels)
    assert found.k == 4 and found.criterion == "fixed k"
    pin = next(c for c in found.clusters if "pin" in c.terms)
    assert "pin" in pin.name
    members = found.examples_of(pin.id, texts)
    assert len(members) == pin.size and members[0] == pin.central[0]
    with pytest.raises(UserError, match="no cluster 99"):
        found.examples_of(99, texts)


@needs_torch
def test_discovery_on_embeddings_recovers_the_jobs() -> None:
    ex = synthetic(per_label=15)
    found = discover(list(ex.texts), k_range=(2, 8), labels=ex.labels)
    assert found.representation is Representation.EMBEDDING
    assert found.scores is not None and found.scores.accuracy >= 0.75
    words = {w for phrase in JOBS["change_pin"][1] for w in phrase.split()}
    assert any(set(c.terms) & words for c in found.clusters)


def test_discovery_refuses_bad_input() -> None:
    with pytest.raises(UserError, match="at least 4"):
        discover(["a", "b"], representation=Representation.LEXICAL)
    with pytest.raises(UserError, match="--k must be between 2 and 4"):
        discover(["a b", "c d", "e f", "g h", "i j"], k=9, representation=Representation.LEXICAL)


def test_cluster_names_use_no_bigram_across_two_utterances() -> None:
    from jobgraph.text.lexical import distinctive_terms

    groups = [["where is my refund", "refund missing"], ["reset my pin", "pin locked"]]
    names = distinctive_terms(groups, top=10)
    assert "refund refund" not in names[0] and "pin pin" not in names[1]
    assert names[0][0] == "refund" and names[1][0] == "pin"
