"""A fast first stage for the embedding models, so most contacts never reach the transformer.

MiniLM reads about 130 contacts per second on a 2-core machine, whatever the batching: it is
compute-bound (about 20 MFLOP per token) and int8 quantisation does not speed it up there. A
``static`` classifier (a model2vec table distilled from the very encoder the model uses, plus
the lexical head) reads thousands. So an embedding model carries a ``static`` classifier trained
on the same examples as a first stage: where the first stage is confident enough, its answer
stands; the rest go to the full model.

"Confident enough" is set from the first stage's out-of-fold predictions on the training
examples: the lowest confidence above which it was right at least ``fast_precision`` of the
time (0.99 by default), unless a fixed ``fast_threshold`` is given (lower answers more
contacts fast, at some accuracy). A model with too few examples per label to cross-fit gets no
first stage. The figures behind the choice are kept in the model's manifest under ``cascade``.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from jobgraph.text.classifier import Classifier, Method, Stage, TrainSettings, train
from jobgraph.text.data import Examples

MIN_ACCEPTED = 20
"""A threshold must let through at least this many out-of-fold examples to be trusted."""


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
            examples, replace(settings, method=Method.STATIC, cascade=False), stage, source
        )
    if fast.calibration is None or fast.labels != model.labels:
        model.info["cascade"] = {"fast_stage": None, "why": "too few examples to cross-fit"}
        return
    index = {label: i for i, label in enumerate(model.labels)}
    y = np.array([index[label] for label in examples.labels])
    threshold = settings.fast_threshold
    if threshold is None:
        threshold = choose_threshold(fast.calibration, y, settings.fast_precision)
    if threshold is None:
        model.info["cascade"] = {
            "fast_stage": None,
            "why": f"the fast stage is not {settings.fast_precision:.0%} right on enough examples",
        }
        return
    accepted = fast.calibration.max(axis=1) >= threshold
    model.fast = fast
    model.fast_threshold = threshold
    model.info["cascade"] = {
        "fast_stage": "static",
        "fast_threshold": round(threshold, 4),
        "chosen_by": "--fast-threshold" if settings.fast_threshold is not None else "precision",
        "precision_target": settings.fast_precision,
        "out_of_fold_share_answered": round(float(accepted.mean()), 4),
        "out_of_fold_accuracy_answered": round(
            float((fast.calibration[accepted].argmax(axis=1) == y[accepted]).mean()), 4
        ),
    }
