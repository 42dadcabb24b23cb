"""The lexical path: TF-IDF over word and character n-grams. Needs no torch.

Saved as JSON vocabularies and NumPy arrays, never pickles, so a model folder is safe to load
and survives scikit-learn upgrades.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_WORD: dict[str, Any] = {
    "analyzer": "word",
    "ngram_range": (1, 2),
    "min_df": 1,
    "sublinear_tf": True,
    "lowercase": True,
    # a word is two or more word characters, or one, e.g. "I" and "£"
    "token_pattern": r"(?u)\b\w+\b|[^\w\s]",
}
_CHAR: dict[str, Any] = {
    "analyzer": "char_wb",
    "ngram_range": (2, 5),
    "min_df": 2,
    "sublinear_tf": True,
    "lowercase": True,
    "max_features": 150_000,
}


class LexicalFeatures:
    """Word 1-2-grams and character 2-5-grams, TF-IDF weighted, each block L2-normalised."""

    def __init__(self) -> None:
        self.word = TfidfVectorizer(**_WORD)
        self.char = TfidfVectorizer(**_CHAR)

    def fit(self, texts: Sequence[str]) -> LexicalFeatures:
        self.word.fit(texts)
        self.char.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        word = self.word.transform(texts)
        char = self.char.transform(texts)
        return sp.hstack([word, char], format="csr") * np.float32(1 / np.sqrt(2))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, vec in (("word", self.word), ("char", self.char)):
            vocab = {term: int(i) for term, i in vec.vocabulary_.items()}
            (folder / f"{name}_vocabulary.json").write_text(
                json.dumps(vocab, ensure_ascii=False, sort_keys=True), encoding="utf-8"
            )
            np.save(folder / f"{name}_idf.npy", vec.idf_.astype(np.float64))

    @classmethod
    def load(cls, folder: Path) -> LexicalFeatures:
        self = cls()
        for name, params in (("word", _WORD), ("char", _CHAR)):
            vocab = json.loads((folder / f"{name}_vocabulary.json").read_text(encoding="utf-8"))
            vec = TfidfVectorizer(**{**params, "vocabulary": vocab, "min_df": 1})
            vec.idf_ = np.load(folder / f"{name}_idf.npy")
            setattr(self, name, vec)
        return self


def distinctive_terms(
    texts_by_group: Sequence[Sequence[str]], top: int = 5, stop_words: str | None = "english"
) -> list[list[str]]:
    """The words that set each group apart (class-based TF-IDF, as in BERTopic)."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [t for group in texts_by_group for t in group]
    counter = CountVectorizer(ngram_range=(1, 2), stop_words=stop_words, min_df=1)
    try:
        per_text = counter.fit_transform(texts).astype(np.float64)
    except ValueError:  # only stop words
        return [[] for _ in texts_by_group]
    # counted per utterance, then summed per group: no bigram across two utterances
    owner = np.repeat(np.arange(len(texts_by_group)), [len(g) for g in texts_by_group])
    groups = sp.csr_matrix(
        (np.ones(len(texts)), (owner, np.arange(len(texts)))),
        shape=(len(texts_by_group), len(texts)),
    )
    counts = sp.csr_matrix(groups @ per_text)
    docs = texts_by_group
    tf = sp.diags(1 / np.maximum(counts.sum(axis=1).A1, 1)) @ counts
    avg_words = counts.sum() / max(len(docs), 1)
    idf = np.log(1 + avg_words / np.maximum(counts.sum(axis=0).A1, 1))
    scores = (tf @ sp.diags(idf)).toarray()
    terms = counter.get_feature_names_out()
    return [[str(terms[j]) for j in np.argsort(-row)[:top] if row[j] > 0] for row in scores]
