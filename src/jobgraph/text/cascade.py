"""A fast first stage for the embedding models, so most contacts never reach the transformer.

MiniLM reads about 130 to 330 contacts per second on a 2-core machine, whatever the batching: it
is compute-bound (about 20 MFLOP per token) and int8 quantisation does not speed it up there. A
``static`` classifier (a model2vec table distilled from the very encoder the model uses, plus
the lexical head) reads thousands. So an embedding model carries a ``static`` classifier trained
on the same examples as a first stage: where the first stage is confident enough, its answer
stands; the rest go to the full model.

"Confident enough" is set from out-of-fold predictions on the training examples. When the full
model was cross-fitted too (``embedding``, ``combined``) and the median label has at least
``LOSS_RULE_MIN_PER_LABEL`` examples: the lowest first-stage confidence at which letting it
answer costs at most ``fast_loss`` (0.1%) of the full model's out-of-fold accuracy. Otherwise
(``finetuned``, few-shot): the lowest confidence above which the first stage was
right at least ``fast_precision`` of the time (0.99). A fixed ``fast_threshold`` overrides both
(lower answers more contacts fast, at some accuracy). A model with too few examples per label
to cross-fit gets no first stage. The figures behind the choice are kept in the model's
manifest under ``cascade``.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from jobgraph.text.classifier import Classifier, Method, Stage, TrainSettings, train
from jobgraph.text.data import Examples

MIN_ACCEPTED = 20
"""A threshold must let through at least this many out-of-fold examples to be trusted."""

LOSS_RULE_MIN_PER_LABEL = 30
"""The accuracy-loss rule needs this many examples for the median label. With fewer,
out-of-fold accuracies are too noisy to spend: on Banking77 at 5 and 10 examples per intent it
gave up 0.15 to 1.3 points on held-out data where the precision rule gave up none. (The median,
not the minimum: Banking77's 80% training part has 28 examples of its rarest intent and 104 on
average, and the minimum kept it on the slower precision rule.)"""


def choose_threshold(proba: np.ndarray, y: np.ndarray, precision: float) -> float | None:
    """The lowest confidence such that predictions at or above it were right at least
    ``precision`` of the time; None when no such set of ``MIN_ACCEPTED`` examples exists."""
    conf = proba.max(axis=1)
    hit = proba.argmax(axis=1) == y
    order = np.argsort(-conf, kind="stable")
    running = np.cumsum(hit[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(running >= precision)
    if not len(ok) or ok[-1] + 1 < MIN_ACCEPTED:
        return None
    return float(conf[order[ok[-1]]])


def choose_threshold_against(
    fast: np.ndarray, full: np.ndarray, y: np.ndarray, loss: float
) -> float | None:
    """The lowest first-stage confidence such that letting the first stage answer at or above
    it costs at most ``loss`` of the accuracy the full model alone has on the same examples
    (both given as out-of-fold probabilities); None when fewer than ``MIN_ACCEPTED`` pass."""
    conf = fast.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    fast_hit = (fast.argmax(axis=1) == y)[order].astype(np.int64)
    full_hit = (full.argmax(axis=1) == y)[order].astype(np.int64)
    change = np.cumsum(fast_hit - full_hit)  # right answers gained by the first i + 1
    ok = np.flatnonzero(change >= -loss * len(y))
    if not len(ok) or ok[-1] + 1 < MIN_ACCEPTED:
        return None
    return float(conf[order[ok[-1]]])


def add_fast_stage(
    model: Classifier, examples: Examples, settings: TrainSettings, stage: Stage
) -> None:
    """Train a ``static`` first stage from ``model``'s encoder and attach it when it can be
    trusted on some contacts (otherwise the model is left as it is)."""
    source = None
    with tempfile.TemporaryDirectory() as tmp:
        if model.method is Method.FINETUNED and model.encoder is not None:
            source = Path(tmp) / "encoder"
            model.encoder.save(source)
        fast = train(
            examples,
            replace(settings, method=Method.STATIC, cascade=False),
            stage,
            static_source=source,
            lexical_from=model,
        )
    if fast.calibration is None or fast.labels != model.labels:
        model.info["cascade"] = {"fast_stage": None, "why": "too few examples to cross-fit"}
        return
    index = {label: i for i, label in enumerate(model.labels)}
    y = np.array([index[label] for label in examples.labels])
    threshold = settings.fast_threshold
    rule = "--fast-threshold"
    enough = float(np.median(np.bincount(y))) >= LOSS_RULE_MIN_PER_LABEL
    if threshold is None and model.calibration is not None and enough:
        rule = f"out-of-fold accuracy lost at most {settings.fast_loss:.2%}"
        threshold = choose_threshold_against(
            fast.calibration, model.calibration, y, settings.fast_loss
        )
    elif threshold is None:
        rule = f"out-of-fold precision at least {settings.fast_precision:.0%}"
        threshold = choose_threshold(fast.calibration, y, settings.fast_precision)
    if threshold is None:
        model.info["cascade"] = {
            "fast_stage": None,
            "why": f"no threshold met the rule ({rule}) on at least {MIN_ACCEPTED} examples",
        }
        return
    accepted = fast.calibration.max(axis=1) >= threshold
    model.fast = fast
    model.fast_threshold = threshold
    model.info["cascade"] = {
        "fast_stage": "static",
        "fast_threshold": round(threshold, 4),
        "chosen_by": rule,
        "out_of_fold_share_answered": round(float(accepted.mean()), 4),
        "out_of_fold_accuracy_answered": round(
            float((fast.calibration[accepted].argmax(axis=1) == y[accepted]).mean()), 4
        ),
    }


CURVE_THRESHOLDS = (0.99, 0.95, 0.9, 0.8, 0.7, 0.5, 0.0)
"""First-stage thresholds :func:`cascade_curve` reports besides the model's own (0: the first
stage answers every contact)."""


def cascade_curve(model: Classifier, texts: list[str], truth: list[str]) -> dict[str, Any]:
    """How the first stage trades accuracy for speed on labelled ``texts``: at the model's own
    threshold and at ``CURVE_THRESHOLDS``, the share of contacts it answers and the accuracy,
    with the full model alone for comparison. Runs both stages on every text once, then mixes
    their answers per threshold (the same rule as :meth:`Classifier.predict_proba`)."""
    if model.fast is None:
        raise ValueError("the model has no first stage")
    fast_stage = model.fast
    index = {label: i for i, label in enumerate(model.labels)}
    y = np.array([index.get(label, -1) for label in truth])
    fast = fast_stage.predict_proba(texts)
    model.fast = None
    try:
        full = model.predict_proba(texts)
    finally:
        model.fast = fast_stage
    conf = fast.max(axis=1)
    fast_hit, full_hit = fast.argmax(axis=1) == y, full.argmax(axis=1) == y

    def point(cut: float) -> dict[str, float]:
        answered = conf >= cut
        return {
            "threshold": round(cut, 4),
            "answered_by_first_stage": round(float(answered.mean()), 4),
            "accuracy": round(float(np.where(answered, fast_hit, full_hit).mean()), 4),
        }

    return {
        "threshold": round(model.fast_threshold, 4),
        "full_model_alone_accuracy": round(float(full_hit.mean()), 4),
        "at_threshold": point(model.fast_threshold),
        "curve": [point(cut) for cut in CURVE_THRESHOLDS],
    }
