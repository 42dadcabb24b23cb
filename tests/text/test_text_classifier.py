"""Training, predicting, abstaining, and the model folder (round trip, versions, atomicity)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.text.conftest import needs_torch, synthetic

from jobgraph.errors import UserError
from jobgraph.text import Method, TrainSettings, load, split, train
from jobgraph.text.classifier import (
    FORMAT_VERSION,
    KernelHead,
    LinearHead,
    ModelDirError,
    load_head,
)
from jobgraph.text.embed import TextExtraMissing
from jobgraph.text.evaluate import evaluate
from jobgraph.text.finetune import FineTuneSettings

LEXICAL = TrainSettings(method=Method.LEXICAL)


def test_lexical_learns_jobs_from_few_examples() -> None:
    train_set, test_set = split(synthetic(per_label=16, parents=True), 0.25, seed=0)
    model = train(train_set, LEXICAL)
    result = evaluate(model, test_set)
    assert result.accuracy >= 0.9
    assert result.parent_accuracy is not None and result.parent_accuracy >= result.accuracy
    pred = model.predict(["hello, my card was stolen yesterday"])[0]
    assert pred.label == "lost_card" and pred.parent == "cards"
    assert pred.model_version == model.model_version and model.model_version.startswith("lexical-")


def test_abstains_below_the_threshold() -> None:
    model = train(synthetic(), LEXICAL)
    sure, vague = model.predict(["where is my refund", "zzz qqq"], threshold=0.5)
    assert not sure.abstained and sure.as_dict()["label"] == "refund_status"
    assert vague.confidence < sure.confidence
    everything = model.predict(["where is my refund"], threshold=0.99999)[0]
    assert everything.abstained and everything.as_dict()["label"] is None
    assert everything.as_dict()["best_guess"] == "refund_status"


def test_confidences_are_probabilities() -> None:
    model = train(synthetic(), LEXICAL)
    proba = model.predict_proba(["where is my card", "change my pin"])
    assert proba.shape == (2, 4)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert 0.05 <= model.temperature <= 5.0


def test_empty_text_is_refused() -> None:
    model = train(synthetic(), LEXICAL)
    with pytest.raises(UserError, match="text 2 is empty"):
        model.predict(["fine", "  "])


def test_model_folder_round_trip(tmp_path: Path) -> None:
    model = train(synthetic(parents=True), LEXICAL)
    folder = model.save(tmp_path / "model", metrics={"accuracy": 1.0})
    again = load(folder)
    texts = ["my card never arrived", "forgot my pin", "refund?"]
    assert np.allclose(model.predict_proba(texts), again.predict_proba(texts), atol=1e-5)
    assert again.model_version == model.model_version
    assert again.parents == model.parents
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["jobgraph_version"]
    assert manifest["metrics"] == {"accuracy": 1.0}
    assert not list(tmp_path.glob(".*")), "no temporary folders are left behind"
    assert not list(folder.rglob("*.pkl")), "no pickles"


def test_retraining_replaces_the_folder(tmp_path: Path) -> None:
    first = train(synthetic(seed=0), LEXICAL).save(tmp_path / "m")
    second = train(synthetic(seed=5, per_label=8), LEXICAL)
    second.save(first)
    assert load(first).model_version == second.model_version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    folder = train(synthetic(), LEXICAL).save(tmp_path / "m")
    manifest = json.loads((folder / "model.json").read_text())
    manifest.update(format_version=99, jobgraph_version="9.0.0")
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelDirError, match=r"format version 99 \(written by jobgraph 9.0.0\)"):
        load(folder)
    with pytest.raises(ModelDirError, match=r"no model\.json"):
        load(tmp_path)


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keep.txt").write_text("precious")
    with pytest.raises(ModelDirError, match="not a model folder"):
        train(synthetic(), LEXICAL).save(tmp_path / "docs")
    assert (tmp_path / "docs" / "keep.txt").read_text() == "precious"


def test_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = train(synthetic(), LEXICAL)

    def boom(self: object) -> dict[str, object]:
        raise OSError("disk full")

    monkeypatch.setattr(type(model), "manifest", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_embeddings_without_torch_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("torch", "transformers", "sentence_transformers"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(TextExtraMissing, match=r"pip install 'jobgraph\[text\]'"):
        train(synthetic(), TrainSettings(method=Method.COMBINED))
    assert train(synthetic(), LEXICAL).predict(["lost my card"])[0].label == "lost_card"


@needs_torch
def test_combined_embeddings_and_lexical(tmp_path: Path) -> None:
    train_set, test_set = split(synthetic(per_label=10), 0.3, seed=0)
    model = train(train_set, TrainSettings(method=Method.COMBINED, cascade=False))
    assert evaluate(model, test_set).accuracy >= 0.9
    # meaning, not words: no training example says "misplaced" or "plastic"
    assert model.predict(["I misplaced my plastic"])[0].label == "lost_card"
    assert isinstance(model.embedding_head, KernelHead)
    assert model.info["settings"]["kernel"]["landmarks"] == len(train_set)
    again = load(model.save(tmp_path / "m"))
    texts = list(test_set.texts)
    assert np.allclose(model.predict_proba(texts), again.predict_proba(texts), atol=1e-4)
    assert not (tmp_path / "m" / "encoder" / "model.safetensors").exists()


@needs_torch
def test_the_embedding_cache_keeps_only_the_newest_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Classifying millions of contacts must not keep every embedding: the cache holds the
    newest CACHE_TEXTS texts, and a call with more texts than that still embeds them all."""
    from jobgraph.text import embed

    monkeypatch.setattr(embed, "CACHE_TEXTS", 3)
    encoder = embed.MiniLMEncoder()
    texts = ["where is my card", "I lost my card", "change my pin", "refund please", "hello"]
    vectors = encoder.encode([*texts, texts[0]])
    assert vectors.shape == (6, embed.DIM) and np.allclose(vectors[0], vectors[5])
    assert list(encoder._cache) == texts[2:]
    again = encoder.encode(texts[:2])  # evicted: embedded again, to the same vectors
    assert np.allclose(again, vectors[:2], atol=1e-5)
    assert list(encoder._cache) == [texts[4], *texts[:2]]


@needs_torch
def test_the_embedding_precision_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """bfloat16 embeddings (the default on CPUs that have it natively) stay within 1e-3 of
    float32 in cosine; the setting forces either, and a wrong value says what it takes."""
    from jobgraph.text import embed

    texts = ["where is my new card", "I was charged twice", "change my pin please"]
    vectors = {}
    for precision in ("float32", "bfloat16"):
        monkeypatch.setenv("JOBGRAPH_EMBEDDING_PRECISION", precision)
        encoder = embed.MiniLMEncoder()
        assert encoder.precision == precision
        vectors[precision] = encoder.encode(texts)
    assert np.allclose(np.linalg.norm(vectors["bfloat16"], axis=1), 1.0, atol=1e-5)
    assert ((vectors["float32"] * vectors["bfloat16"]).sum(axis=1) > 0.999).all()
    monkeypatch.setenv("JOBGRAPH_EMBEDDING_PRECISION", "auto")
    assert embed.embedding_precision() in ("float32", "bfloat16")
    monkeypatch.setenv("JOBGRAPH_EMBEDDING_PRECISION", "fp8")
    with pytest.raises(UserError, match="JOBGRAPH_EMBEDDING_PRECISION: Input should be 'auto'"):
        embed.embedding_precision()


@needs_torch
def test_finetuned_round_trip(tmp_path: Path) -> None:
    settings = TrainSettings(
        method=Method.FINETUNED,
        finetune=FineTuneSettings(epochs=1, min_steps=4, batch_size=16),
        cascade=False,
    )
    model = train(synthetic(per_label=6), settings)
    assert model.info["settings"]["finetune"]["min_steps"] == 4
    again = load(model.save(tmp_path / "m"))
    assert (tmp_path / "m" / "encoder" / "model.safetensors").exists()
    texts = ["where is my new card", "forgot my pin code"]
    assert np.allclose(model.predict_proba(texts), again.predict_proba(texts), atol=1e-4)
    assert [p.label for p in again.predict(texts)] == ["card_arrival", "change_pin"]


@needs_torch
def test_the_lexical_weight_is_chosen_on_out_of_fold_loss(tmp_path: Path) -> None:
    from jobgraph.text.classifier import WEIGHT_GRID

    examples = synthetic(per_label=9)
    tuned = train(examples, TrainSettings(method=Method.COMBINED, cascade=False))
    assert tuned.lexical_weight in WEIGHT_GRID
    assert tuned.info["settings"]["lexical_weight"] == tuned.lexical_weight
    assert load(tuned.save(tmp_path / "m")).lexical_weight == tuned.lexical_weight
    fixed = train(examples, TrainSettings(method=Method.COMBINED, tune_lexical_weight=False))
    assert fixed.lexical_weight == 0.5


def test_bucketed_batches_cover_every_example_once_with_similar_lengths() -> None:
    from jobgraph.text.finetune import bucketed_batches

    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 60, size=1000)
    batches = bucketed_batches(lengths, 16, np.random.default_rng(0), pool=10)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(1000))
    assert all(1 <= len(b) <= 16 for b in batches)
    # padding is to the longest text of a batch: far less than with random batches
    padded = sum(len(b) * lengths[b].max() for b in batches)
    shuffled = np.random.default_rng(1).permutation(1000)
    random_padded = sum(16 * lengths[shuffled[i : i + 16]].max() for i in range(0, 1000, 16))
    assert padded < 0.75 * random_padded
    # a new generator state gives another order
    again = bucketed_batches(lengths, 16, np.random.default_rng(1), pool=10)
    assert [b.tolist() for b in again] != [b.tolist() for b in batches]


def _rings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in 3-d, labelled by the signs of two coordinates as in XOR (class 2: near
    the equator of the third): no hyperplane separates these classes, a kernel does."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.where(np.abs(x[:, 2]) > 0.8, 2, (x[:, 0] * x[:, 1] > 0).astype(int))
    return x.astype(np.float32), y


def test_the_kernel_head_separates_what_a_linear_head_cannot(tmp_path: Path) -> None:
    x, y = _rings(600, seed=0)
    test_x, test_y = _rings(400, seed=1)
    kernel = KernelHead.fit(x, y, 3, C=20.0, seed=0, landmarks=200, gamma=2.0)
    linear = LinearHead.fit(x, y, 3, C=20.0, seed=0)
    kernel_acc = (kernel.log_proba(test_x).argmax(axis=1) == test_y).mean()
    linear_acc = (linear.log_proba(test_x).argmax(axis=1) == test_y).mean()
    assert kernel_acc >= 0.95 and linear_acc < 0.8, (kernel_acc, linear_acc)
    assert kernel.landmarks.shape == (200, 3) and kernel.weight.shape == (3, 200)
    assert kernel.linear.shape == (3, 3)
    kernel.save(tmp_path / "head.npz")
    again = load_head(tmp_path / "head.npz")
    assert isinstance(again, KernelHead)
    assert np.allclose(again.log_proba(test_x), kernel.log_proba(test_x), atol=1e-5)
    linear.save(tmp_path / "linear.npz")
    assert isinstance(load_head(tmp_path / "linear.npz"), LinearHead)


def test_the_folded_kernel_head_equals_logistic_regression_on_nystroem_features() -> None:
    """Folding the Nyström normalisation into the weights changes nothing: the head's scores
    are those of the same logistic regression applied to the embedding and explicit Nyström
    features side by side."""
    from sklearn.kernel_approximation import Nystroem

    x, y = _rings(300, seed=2)
    test_x, _ = _rings(50, seed=3)
    head = KernelHead.fit(x, y, 3, C=5.0, seed=0, landmarks=300, gamma=1.5)
    nys = Nystroem(kernel="rbf", gamma=1.5, n_components=300, random_state=0).fit(x)
    reference = LinearHead.fit(np.hstack([x, nys.transform(x)]), y, 3, C=5.0, seed=0)
    expected = reference.log_proba(np.hstack([test_x, nys.transform(test_x)]))
    assert np.allclose(np.exp(head.log_proba(test_x)), np.exp(expected), atol=1e-2)
    assert (head.log_proba(test_x).argmax(axis=1) == expected.argmax(axis=1)).all()


def test_a_kernel_head_with_fewer_examples_than_landmarks_uses_them_all() -> None:
    x, y = _rings(40, seed=4)
    head = KernelHead.fit(x, y, 3, C=20.0, seed=0, landmarks=4000, gamma=2.0)
    assert head.landmarks.shape == (40, 3)
    assert np.isfinite(head.log_proba(x)).all()


def test_the_kernel_head_works_in_row_blocks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kernel features are computed a block of rows at a time (memory stays bounded at any
    number of examples); blocks of 7 rows give the head the whole matrix gives."""
    from jobgraph.text import classifier

    x, y = _rings(300, seed=5)
    test_x, _ = _rings(50, seed=6)
    whole = KernelHead.fit(x, y, 3, C=20.0, seed=0, landmarks=100, gamma=2.0)
    monkeypatch.setattr(classifier, "ROWS_PER_BLOCK", 7)
    blocked = KernelHead.fit(x, y, 3, C=20.0, seed=0, landmarks=100, gamma=2.0)
    expected = np.exp(whole.log_proba(test_x))
    assert np.allclose(np.exp(blocked.log_proba(test_x)), expected, atol=1e-4)
    monkeypatch.setattr(classifier, "ROWS_PER_BLOCK", 8192)
    assert np.allclose(np.exp(blocked.log_proba(test_x)), expected, atol=1e-4)
    assert (blocked.log_proba(test_x).argmax(axis=1) == expected.argmax(axis=1)).all()
