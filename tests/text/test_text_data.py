"""Reading labelled utterances: every bad file is a clear error naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.text.conftest import synthetic

from jobgraph.text import Examples, TextDataError, k_shot, read_examples, read_texts, split


def test_reads_csv_with_parents(labelled_csv: Path) -> None:
    ex = read_examples(labelled_csv, "text", "category", "family")
    assert len(ex) == 48
    assert ex.parent_of()["lost_card"] == "cards"
    assert ex.lines[0] == 2


def test_missing_column_lists_the_columns(labelled_csv: Path) -> None:
    with pytest.raises(TextDataError, match=r"no column 'label'.*'text', 'category'.*--label-col"):
        read_examples(labelled_csv, "text", "label")


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,category\nfine,a\ncaf\xe9 au lait,b\n")
    with pytest.raises(TextDataError, match=r"latin.csv:3: not valid utf-8.*--encoding"):
        read_examples(path)
    assert read_examples(path, encoding="cp1252").texts[1] == "café au lait"


def test_empty_text_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text('text,category\nhello,a\n"  ",b\n', encoding="utf-8")
    with pytest.raises(TextDataError, match=r"gap.csv:3: the text is empty"):
        read_examples(path)
    with pytest.raises(TextDataError, match=r"gap.csv:3: the text is empty"):
        read_texts(path)


def test_ragged_row_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("text,category\nhello,a,extra\n", encoding="utf-8")
    with pytest.raises(TextDataError, match=r"ragged.csv:2: 3 fields but the header has 2"):
        read_examples(path)
    with pytest.raises(TextDataError, match="no such file"):
        read_examples(tmp_path / "nope.csv")


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text('{"utterance": "hi", "intent": "A"}\n\n{"utterance": "yo", "intent": "B"}\n')
    texts, labels = read_texts(path, "utterance", label_col="intent")
    assert texts == ["hi", "yo"] and labels == ["A", "B"]
    path.write_text('{"utterance": "hi"}\nnot json\n')
    with pytest.raises(TextDataError, match=r"u.jsonl:2: not a JSON object"):
        read_texts(path, "utterance")


def test_single_example_labels_are_refused() -> None:
    ex = Examples.from_rows([("a b", "x"), ("c d", "x"), ("e f", "lonely")])
    with pytest.raises(TextDataError, match=r"1 label\(s\) have a single example \('lonely'\)"):
        ex.check_trainable()
    with pytest.raises(TextDataError, match="only one label"):
        Examples.from_rows([("a", "x"), ("b", "x")]).check_trainable()


def test_label_with_two_parents_is_refused() -> None:
    ex = Examples.from_rows([("a", "x", "p"), ("b", "x", "q"), ("c", "y", "p")])
    with pytest.raises(TextDataError, match=r"example 2: label 'x' is under parent 'q'"):
        ex.parent_of()


def test_k_shot_and_split_are_stratified_and_seeded() -> None:
    ex = synthetic(per_label=12)
    five = k_shot(ex, 5, seed=1)
    assert sorted(five.labels.count(c) for c in five.classes) == [5, 5, 5, 5]
    assert k_shot(ex, 5, seed=1) == five
    assert k_shot(ex, 5, seed=2) != five
    train, test = split(ex, 0.25, seed=0)
    assert len(train) + len(test) == len(ex)
    assert all(test.labels.count(c) == 3 for c in ex.classes)


def test_public_surface_is_explicit_and_sorted() -> None:
    import jobgraph.text

    assert list(jobgraph.text.__all__) == sorted(jobgraph.text.__all__)
    assert all(hasattr(jobgraph.text, name) for name in jobgraph.text.__all__)
