"""End-to-end fine-tuning of MiniLM on the examples: mean pooling, a cosine head, cross-entropy.

The head works on the same normalised embeddings :class:`~jobgraph.text.embed.MiniLMEncoder`
produces, so prediction is ``softmax(scale * (E @ W.T) + b)`` in NumPy over the saved encoder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jobgraph.text.embed import MiniLMEncoder, require_torch


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 3
    min_steps: int = 250
    """Few-shot sets are small: train at least this many steps whatever the epoch count."""
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 2e-2
    max_length: int = 64
    scale: float = 20.0
    label_smoothing: float = 0.1
    warmup: float = 0.1
    freeze_embeddings: bool = True
    """Keep the token embeddings (half of MiniLM's weights) fixed: much cheaper steps on CPU."""
    seed: int = 0


@dataclass(frozen=True)
class FineTuned:
    encoder: MiniLMEncoder
    weight: np.ndarray
    bias: np.ndarray
    scale: float
    steps: int
    seconds: float


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 50
) -> list[np.ndarray]:
    """One epoch of shuffled batches whose texts have similar lengths.

    The order is shuffled, cut into pools of ``pool`` batches, each pool sorted by length and
    cut into batches, and the batches shuffled: a batch pads to its longest text, so grouping
    similar lengths halves the work on short contact texts without making batches predictable."""
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fine_tune(
    texts: Sequence[str],
    y: np.ndarray,
    n_classes: int,
    settings: FineTuneSettings = FineTuneSettings(),
    progress: Callable[[int, int], None] | None = None,
) -> FineTuned:
    """Fine-tune the packaged MiniLM; ``progress(step, total)`` after every step."""
    torch = require_torch()
    import torch.nn.functional as F

    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    encoder = MiniLMEncoder(max_length=settings.max_length)
    st = encoder.model
    bert = st[0].auto_model
    tokenizer = st.tokenizer
    dim = bert.config.hidden_size
    head = torch.nn.Linear(dim, n_classes)
    # start the head at the class centroids of the frozen embeddings: faster, steadier few-shot
    with torch.inference_mode():
        frozen = encoder.encode(texts)
    centroids = np.zeros((n_classes, dim), dtype=np.float32)
    np.add.at(centroids, y, frozen)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    encoder._cache.clear()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(centroids))
        head.bias.zero_()

    n = len(texts)
    lengths = np.array([len(ids) for ids in tokenizer(list(texts), truncation=True,
                        max_length=settings.max_length)["input_ids"]])  # fmt: skip
    per_epoch = math.ceil(n / settings.batch_size)
    epochs = max(settings.epochs, math.ceil(settings.min_steps / per_epoch))
    total = epochs * per_epoch
    warmup = max(1, int(total * settings.warmup))
    if settings.freeze_embeddings:
        bert.embeddings.requires_grad_(False)
    trainable = [p for p in bert.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": trainable, "lr": settings.lr},
            {"params": head.parameters(), "lr": settings.head_lr, "weight_decay": 0.0},
        ],
        weight_decay=0.01,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / (total - warmup)),
    )
    labels = torch.as_tensor(y, dtype=torch.long)
    bert.train()
    step = 0
    for _ in range(epochs):
        for idx in bucketed_batches(lengths, settings.batch_size, rng):
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=settings.max_length,
                return_tensors="pt",
            )
            hidden = bert(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            emb = F.normalize(pooled, dim=-1)
            logits = settings.scale * head(emb)
            loss = F.cross_entropy(logits, labels[idx], label_smoothing=settings.label_smoothing)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            step += 1
            if progress:
                progress(step, total)
    bert.eval()
    encoder._cache.clear()
    return FineTuned(
        encoder=encoder,
        weight=head.weight.detach().numpy().astype(np.float32),
        bias=head.bias.detach().numpy().astype(np.float32),
        scale=settings.scale,
        steps=step,
        seconds=time.perf_counter() - started,
    )
