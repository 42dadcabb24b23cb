"""The fast first stage: its threshold, its routing, and a model folder that keeps it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.text.conftest import needs_torch, synthetic

from jobgraph.errors import UserError
from jobgraph.text import Method, TrainSettings, load, train
from jobgraph.text.cascade import (
    MIN_ACCEPTED,
    cascade_curve,
    choose_threshold,
    choose_threshold_against,
)
from jobgraph.text.data import Examples
from jobgraph.text.evaluate import evaluate

LEXICAL = TrainSettings(method=Method.LEXICAL)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.51, 1.0), st.booleans()), min_size=1, max_size=300),
    st.sampled_from([0.8, 0.9, 0.99]),
)
def test_threshold_keeps_the_precision_it_promises(
    rows: list[tuple[float, bool]], precision: float
) -> None:
    conf = np.array([c for c, _ in rows])
    hit = np.array([h for _, h in rows])
    # two labels: the top probability is conf, the answer right or wrong as drawn
    proba = np.column_stack([conf, 1 - conf])
    y = np.where(hit, 0, 1)
    threshold = choose_threshold(proba, y, precision)
    if threshold is None:
        return
    accepted = conf >= threshold
    assert accepted.sum() >= MIN_ACCEPTED
    # ties at the threshold may let in a few more; without ties the promise is exact
    if len(np.unique(conf)) == len(conf):
        assert hit[accepted].mean() >= precision - 1e-12
        # and it is the largest such set: one step lower breaks the promise or adds nothing
        lower = conf[conf < threshold]
        if len(lower):
            wider = conf >= lower.max()
            running = np.cumsum(hit[np.argsort(-conf)]) / np.arange(1, len(conf) + 1)
            assert running[wider.sum() - 1 :].max() < precision


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.51, 1.0), st.booleans(), st.booleans()), min_size=1, max_size=300
    ),
    st.sampled_from([0.0, 0.001, 0.01]),
)
def test_threshold_against_the_full_model_costs_at_most_the_allowed_accuracy(
    rows: list[tuple[float, bool, bool]], loss: float
) -> None:
    conf = np.array([c for c, _, _ in rows])
    fast_hit = np.array([f for _, f, _ in rows])
    full_hit = np.array([f for _, _, f in rows])
    y = np.zeros(len(rows), dtype=int)
    fast = np.column_stack([np.where(fast_hit, conf, 1 - conf), np.where(fast_hit, 1 - conf, conf)])
    # the full model's probabilities only matter through whether it is right
    full = np.column_stack([full_hit.astype(float), (~full_hit).astype(float)])
    threshold = choose_threshold_against(fast, full, y, loss)
    if threshold is None or len(np.unique(conf)) != len(conf):
        return
    top = fast.max(axis=1)
    accepted = top >= threshold
    assert accepted.sum() >= MIN_ACCEPTED
    cascade = np.where(accepted, fast_hit, full_hit).mean()
    assert cascade >= full_hit.mean() - loss - 1e-12


def test_no_threshold_when_the_fast_stage_is_never_that_good() -> None:
    proba = np.array([[0.9, 0.1]] * 50)
    y = np.array([0, 1] * 25)
    assert choose_threshold(proba, y, 0.99) is None


def test_confident_contacts_take_the_fast_answer_and_the_rest_the_full_model(
    tmp_path: Path,
) -> None:
    examples = synthetic(per_label=12)
    full = train(examples, LEXICAL)
    fast = train(examples, replace(LEXICAL, C_lexical=0.5))  # a weaker, less sure model
    texts = ["where is my refund", "zzz qqq", "my card was stolen", "pin", "hello"]
    fast_proba = fast.predict_proba(texts)
    full_proba = full.predict_proba(texts)
    cut = float(np.median(fast_proba.max(axis=1)))
    full.fast, full.fast_threshold = fast, cut
    proba = full.predict_proba(texts)
    easy = fast_proba.max(axis=1) >= cut
    assert easy.any() and (~easy).any()
    assert np.allclose(proba[easy], fast_proba[easy])
    assert np.allclose(proba[~easy], full_proba[~easy])
    again = load(full.save(tmp_path / "m"))
    assert again.fast is not None and again.fast_threshold == cut
    assert np.allclose(again.predict_proba(texts), proba, atol=1e-6)
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["fast_threshold"] == cut
    assert (tmp_path / "m" / "fast" / "model.json").is_file()


@needs_torch
def test_combined_model_gets_a_fast_stage_that_agrees_with_it(tmp_path: Path) -> None:
    examples = synthetic(per_label=15)
    model = train(examples, TrainSettings(method=Method.COMBINED, fast_precision=0.9))
    info = model.info["cascade"]
    assert model.fast is not None and model.fast.method is Method.STATIC, info
    assert info["out_of_fold_accuracy_answered"] >= 0.9
    texts = ["where is my refund please", "i lost my card", "change my pin"]
    assert [p.label for p in model.predict(texts)] == ["refund_status", "lost_card", "change_pin"]
    again = load(model.save(tmp_path / "m"))
    assert np.allclose(again.predict_proba(texts), model.predict_proba(texts), atol=1e-5)


@needs_torch
def test_finetuned_model_distils_its_fast_stage_from_its_own_encoder(tmp_path: Path) -> None:
    from jobgraph.text.finetune import FineTuneSettings

    settings = TrainSettings(
        method=Method.FINETUNED,
        finetune=FineTuneSettings(epochs=1, min_steps=4, batch_size=16),
        fast_precision=0.8,
    )
    model = train(synthetic(per_label=12), settings)
    assert model.fast is not None, model.info["cascade"]
    assert model.fast.method is Method.STATIC and model.fast.labels == model.labels
    again = load(model.save(tmp_path / "m"))
    texts = ["where is my refund", "i lost my card yesterday"]
    assert np.allclose(again.predict_proba(texts), model.predict_proba(texts), atol=1e-5)
    assert again.model_version == model.model_version


def test_a_fixed_first_stage_threshold_must_be_a_probability() -> None:
    with pytest.raises(UserError, match="--fast-threshold must be in"):
        TrainSettings(fast_threshold=1.5)


@needs_torch
def test_a_fixed_first_stage_threshold_is_used_as_given() -> None:
    model = train(
        synthetic(per_label=15), TrainSettings(method=Method.COMBINED, fast_threshold=0.3)
    )
    assert model.fast is not None and model.fast_threshold == 0.3
    assert model.info["cascade"]["chosen_by"] == "--fast-threshold"
    texts = ["where is my refund please", "i lost my card"]
    # nearly every contact clears 0.3 with four labels: the answers are the first stage's
    assert np.allclose(model.predict_proba(texts), model.fast.predict_proba(texts))


@needs_torch
def test_with_enough_examples_the_threshold_bounds_the_out_of_fold_loss() -> None:
    from jobgraph.text.cascade import LOSS_RULE_MIN_PER_LABEL

    model = train(
        synthetic(per_label=LOSS_RULE_MIN_PER_LABEL), TrainSettings(method=Method.COMBINED)
    )
    info = model.info["cascade"]
    assert model.fast is not None, info
    assert info["chosen_by"].startswith("out-of-fold accuracy lost at most")
    few = train(synthetic(per_label=12), TrainSettings(method=Method.COMBINED))
    assert few.info["cascade"].get("chosen_by", "").startswith("out-of-fold precision") or (
        few.fast is None
    )


def test_the_cascade_curve_mixes_the_two_stages_per_threshold() -> None:
    examples = synthetic(per_label=12)
    full = train(examples, LEXICAL)
    fast = train(examples, replace(LEXICAL, C_lexical=0.05))  # weak and unsure
    test = synthetic(per_label=6, seed=7)
    texts, truth = list(test.texts), list(test.labels)
    fast_proba = fast.predict_proba(texts)
    cut = float(np.quantile(fast_proba.max(axis=1), 0.4))
    full.fast, full.fast_threshold = fast, cut
    curve = cascade_curve(full, texts, truth)
    assert full.fast is fast, "the first stage is put back"
    alone = [full.labels[i] for i in full.fast.predict_proba(texts).argmax(axis=1)]
    full.fast = None
    full_alone = evaluate(full, test).accuracy
    full.fast = fast
    assert curve["full_model_alone_accuracy"] == round(full_alone, 4)
    # at the model's own threshold the curve reports what the model predicts
    own = curve["at_threshold"]
    assert own["accuracy"] == round(evaluate(full, test).accuracy, 4)
    assert own["answered_by_first_stage"] == round(float((fast_proba.max(axis=1) >= cut).mean()), 4)
    # at 0 the first stage answers everything: its own accuracy
    zero = curve["curve"][-1]
    assert zero["threshold"] == 0 and zero["answered_by_first_stage"] == 1.0
    hits = [a == t for a, t in zip(alone, truth, strict=True)]
    assert zero["accuracy"] == round(float(np.mean(hits)), 4)
    shares = [point["answered_by_first_stage"] for point in curve["curve"]]
    assert shares == sorted(shares), "a lower threshold never answers fewer contacts"


@needs_torch
def test_the_loss_rule_looks_at_the_median_label_not_the_rarest() -> None:
    from jobgraph.text.cascade import LOSS_RULE_MIN_PER_LABEL

    full = synthetic(per_label=LOSS_RULE_MIN_PER_LABEL)
    rows = list(zip(full.texts, full.labels, strict=True))
    rare = [r for r in rows if r[1] == "change_pin"][:10]  # one label far below the minimum
    examples = Examples.from_rows([r for r in rows if r[1] != "change_pin"] + rare)
    model = train(examples, TrainSettings(method=Method.COMBINED))
    assert model.fast is not None, model.info["cascade"]
    assert model.info["cascade"]["chosen_by"].startswith("out-of-fold accuracy lost at most")
