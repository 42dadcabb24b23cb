"""How good a classifier is: accuracy, macro-F1, per-label precision/recall, confusions,
coverage at the abstain threshold, calibration, and k-shot learning curves."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from jobgraph.text.classifier import Classifier, Prediction, Stage, TrainSettings, no_progress
from jobgraph.text.classifier import train as train_model
from jobgraph.text.data import Examples, TextDataError, k_shot


@dataclass(frozen=True)
class Evaluation:
    n: int
    accuracy: float
    macro_f1: float
    threshold: float
    coverage: float
    """Share of contacts mapped to a job (confidence at or above the threshold)."""
    covered_accuracy: float | None
    """Accuracy on the mapped contacts only."""
    ece: float
    """Expected calibration error (15 bins): how far confidence is from accuracy."""
    per_label: dict[str, dict[str, float]]
    confusions: list[dict[str, Any]]
    parent_accuracy: float | None
    parent_macro_f1: float | None
    unknown_labels: list[str]
    coverage_curve: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "threshold": self.threshold,
            "coverage": round(self.coverage, 4),
            "covered_accuracy": _r(self.covered_accuracy),
            "ece": round(self.ece, 4),
            "parent_accuracy": _r(self.parent_accuracy),
            "parent_macro_f1": _r(self.parent_macro_f1),
            "levels": self.levels(),
            "per_label": self.per_label,
            "confusions": self.confusions,
            "unknown_labels": self.unknown_labels,
            "coverage_curve": self.coverage_curve,
        }

    def levels(self) -> dict[str, dict[str, float]]:
        """Accuracy and macro-F1 per taxonomy level: ``label`` always; with a two-level
        taxonomy ``intent`` (the labels) and ``job`` (their parents) instead."""
        top = {"accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4)}
        if self.parent_accuracy is None or self.parent_macro_f1 is None:
            return {"label": top}
        return {
            "intent": top,
            "job": {
                "accuracy": round(self.parent_accuracy, 4),
                "macro_f1": round(self.parent_macro_f1, 4),
            },
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def score(
    predictions: Sequence[Prediction],
    truth: Sequence[str],
    threshold: float,
    parents: dict[str, str] | None = None,
    true_parents: Sequence[str] | None = None,
    top_confusions: int = 10,
) -> Evaluation:
    """Compare predictions (best guesses, abstained or not) with the true labels."""
    if len(predictions) != len(truth):
        raise ValueError("one prediction per true label")
    if not truth:
        raise TextDataError("no labelled examples to evaluate on")
    guess = [p.label for p in predictions]
    conf = np.array([p.confidence for p in predictions])
    hit = np.array([g == t for g, t in zip(guess, truth, strict=True)])
    labels = sorted(set(truth) | set(guess))
    p, r, f, s = precision_recall_fscore_support(truth, guess, labels=labels, zero_division=0.0)
    per_label = {
        label: {
            "precision": round(float(p[i]), 4),
            "recall": round(float(r[i]), 4),
            "f1": round(float(f[i]), 4),
            "support": int(s[i]),
        }
        for i, label in enumerate(labels)
        if s[i] > 0
    }
    pairs = Counter((t, g) for t, g in zip(truth, guess, strict=True) if t != g)
    confusions = [
        {"true": t, "predicted": g, "count": n} for (t, g), n in pairs.most_common(top_confusions)
    ]
    covered = conf >= threshold
    parent_acc = parent_f1 = None
    if parents and (true_parents is not None or set(truth) <= set(parents)):
        gold = list(true_parents) if true_parents is not None else [parents[t] for t in truth]
        pred = [parents.get(g, "") for g in guess]
        parent_acc = float(np.mean([a == b for a, b in zip(gold, pred, strict=True)]))
        parent_f1 = float(f1_score(gold, pred, average="macro", labels=sorted(set(gold))))
    known = {p.label for p in predictions}
    return Evaluation(
        n=len(truth),
        accuracy=float(hit.mean()),
        macro_f1=float(f1_score(truth, guess, average="macro", labels=sorted(set(truth)))),
        threshold=threshold,
        coverage=float(covered.mean()),
        covered_accuracy=float(hit[covered].mean()) if covered.any() else None,
        ece=expected_calibration_error(conf, hit),
        per_label=per_label,
        confusions=confusions,
        parent_accuracy=parent_acc,
        parent_macro_f1=parent_f1,
        unknown_labels=sorted(set(truth) - known - set(parents or {})),
        coverage_curve=[
            {
                "threshold": t,
                "coverage": round(float((conf >= t).mean()), 4),
                "accuracy": round(float(hit[conf >= t].mean()), 4) if (conf >= t).any() else 1.0,
            }
            for t in (0.0, 0.3, 0.5, 0.7, 0.9)
        ],
    )


def expected_calibration_error(conf: np.ndarray, hit: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(conf[mask].mean() - hit[mask].mean())
    return float(total)


def evaluate(
    model: Classifier,
    examples: Examples,
    threshold: float | None = None,
    stage: Stage = no_progress,
) -> Evaluation:
    """Predict every example and score the predictions."""
    cut = model.threshold if threshold is None else threshold
    preds = model.predict(list(examples.texts), threshold=cut, stage=stage)
    return score(preds, examples.labels, cut, model.parents or None, examples.parents)


def cross_validate(
    examples: Examples,
    settings: TrainSettings,
    folds: int = 5,
    stage: Stage = no_progress,
) -> Evaluation:
    """Score a method on examples alone: train on all folds but one, predict the held-out fold,
    and score the out-of-fold predictions together (at both levels of a two-level taxonomy).

    Folds are stratified; with fewer examples than folds in some label, there are as many
    folds as that label has examples, and every label needs three."""
    from dataclasses import replace

    from sklearn.model_selection import StratifiedKFold

    examples.check_trainable()
    if folds < 2:
        raise TextDataError(f"--folds must be at least 2, not {folds}")
    counts = Counter(examples.labels)
    few = sorted(label for label, n in counts.items() if n < 3)
    if few:
        raise TextDataError(
            f"{examples.source}: cross-validation needs three examples or more per label; "
            f"{', '.join(map(repr, few[:10]))} have fewer"
        )
    k = min(folds, min(counts.values()))
    y = np.array([examples.classes.index(label) for label in examples.labels])
    preds: list[Prediction | None] = [None] * len(examples)
    advance = stage("cross-validating", k)
    splitter = StratifiedKFold(k, shuffle=True, random_state=settings.seed)
    for fit_idx, held_idx in splitter.split(np.zeros(len(y)), y):
        model = train_model(examples.subset(list(fit_idx)), replace(settings, calibration_folds=2))
        for i, p in zip(
            held_idx, model.predict([examples.texts[i] for i in held_idx]), strict=True
        ):
            preds[i] = p
        advance(1)
    done = [p for p in preds if p is not None]
    assert len(done) == len(examples)
    return score(done, examples.labels, settings.threshold, examples.parent_of() or None)


@dataclass(frozen=True)
class CurvePoint:
    k: int | None
    """Examples per label; None for all of them."""
    seeds: tuple[int, ...]
    accuracy: tuple[float, ...]
    macro_f1: tuple[float, ...]
    train_seconds: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        def summary(xs: tuple[float, ...]) -> dict[str, float]:
            return {
                "mean": round(statistics.fmean(xs), 4),
                "std": round(statistics.stdev(xs), 4) if len(xs) > 1 else 0.0,
            }

        return {
            "k": self.k,
            "seeds": list(self.seeds),
            "accuracy": summary(self.accuracy),
            "macro_f1": summary(self.macro_f1),
            "train_seconds": summary(self.train_seconds),
        }


def learning_curve(
    train: Examples,
    test: Examples,
    settings: TrainSettings,
    ks: Sequence[int | None] = (5, 10, None),
    seeds: Sequence[int] = (0, 1, 2),
    stage: Stage = no_progress,
) -> list[CurvePoint]:
    """Accuracy with k examples per label (several random draws), and with all of them."""
    import time
    from dataclasses import replace

    points = []
    for k in ks:
        accs: list[float] = []
        f1s: list[float] = []
        secs: list[float] = []
        used = (seeds[0],) if k is None else tuple(seeds)
        for seed in used:
            subset = train if k is None else k_shot(train, k, seed)
            started = time.perf_counter()
            model = train_model(subset, replace(settings, seed=seed))
            secs.append(time.perf_counter() - started)
            result = evaluate(model, test, stage=stage)
            accs.append(result.accuracy)
            f1s.append(result.macro_f1)
        points.append(CurvePoint(k, used, tuple(accs), tuple(f1s), tuple(secs)))
    return points
