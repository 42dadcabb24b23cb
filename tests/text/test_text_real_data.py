"""Small slices of the public corpora in /work/shared/data; skipped when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.text.conftest import needs_torch

from jobgraph.text import Method, TrainSettings, k_shot, read_examples, split, train
from jobgraph.text.discovery import discover
from jobgraph.text.evaluate import evaluate

DATA = Path(os.environ.get("JOBGRAPH_TEST_DATA", "/work/shared/data"))
BANKING = DATA / "banking77" / "train.csv"
BITEXT = DATA / "bitext-customer-support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
DSTC = DATA / "dstc11-intent-induction" / "test-banking.test-utterances.jsonl"


def needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.is_file(), reason=f"{path} is not available")


def banking_slice(labels: int = 12):
    examples = read_examples(BANKING)
    keep = set(examples.classes[:labels])
    subset = examples.subset([i for i, lab in enumerate(examples.labels) if lab in keep])
    train_set, test_set = split(subset, 0.2, seed=0)
    return k_shot(train_set, 10, seed=0), test_set


@needs(BANKING)
def test_banking77_ten_shot_lexical() -> None:
    train_set, test_set = banking_slice()
    model = train(train_set, TrainSettings(method=Method.LEXICAL))
    assert evaluate(model, test_set).accuracy >= 0.6


@needs(BANKING)
@needs_torch
def test_banking77_ten_shot_combined_beats_lexical() -> None:
    train_set, test_set = banking_slice()
    lexical = evaluate(train(train_set, TrainSettings(method=Method.LEXICAL)), test_set)
    combined = evaluate(train(train_set, TrainSettings(method=Method.COMBINED)), test_set)
    assert combined.accuracy >= 0.8
    assert combined.accuracy > lexical.accuracy


@needs(BITEXT)
def test_bitext_two_level_accuracy() -> None:
    examples = read_examples(BITEXT, "instruction", "intent", "category")
    train_set, test_set = split(examples, 0.2, seed=0)
    result = evaluate(train(k_shot(train_set, 10, 0), TrainSettings(Method.LEXICAL)), test_set)
    assert result.parent_accuracy is not None
    assert result.parent_accuracy >= result.accuracy >= 0.7


@needs(DSTC)
def test_dstc11_banking_discovery_is_scored() -> None:
    from jobgraph.text import read_texts
    from jobgraph.text.discovery import Representation

    texts, labels = read_texts(DSTC, "utterance", label_col="intent")
    found = discover(texts, k=18, representation=Representation.LEXICAL, labels=labels, seed=0)
    assert found.scores is not None
    assert found.scores.n_labels == 18
    assert found.scores.nmi > 0.3
