"""Contact text: embeddings, contact-to-job classification and contact-driver discovery.

The lexical path (TF-IDF) needs only scikit-learn; embeddings need the ``text`` extra (torch),
imported only when asked for.
"""

from jobgraph.text.classifier import Classifier, Method, Prediction, TrainSettings, load, train
from jobgraph.text.data import (
    Examples,
    TextDataError,
    examples_from_jobs,
    k_shot,
    read_examples,
    read_texts,
    split,
)

__all__ = [
    "Classifier",
    "Examples",
    "Method",
    "Prediction",
    "TextDataError",
    "TrainSettings",
    "examples_from_jobs",
    "k_shot",
    "load",
    "read_examples",
    "read_texts",
    "split",
    "train",
]
