from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobgraph.domain.ids import ID_PATTERN, Kind, make_id, parse_id, slugify


def test_parse_id_splits_kind_and_slug() -> None:
    assert parse_id("job.resolve-billing-anomaly") == (Kind.JOB, "resolve-billing-anomaly")


@pytest.mark.parametrize(
    "bad", ["job", "Job.x", "job.", "job.-a", "job.a--b", "widget.a", "job.a_b", "job.a b"]
)
def test_parse_id_rejects_malformed_ids_with_an_example(bad: str) -> None:
    with pytest.raises(ValueError, match=r"job\.|kind prefix"):
        parse_id(bad)


def test_slugify_makes_readable_ids() -> None:
    assert make_id(Kind.JOB, "Resolve a billing anomaly!") == "job.resolve-a-billing-anomaly"
    assert slugify("Café & crème — über") == "cafe-creme-uber"
    assert slugify("!!!") == "untitled"


@given(st.text(max_size=200))
def test_slugify_always_gives_a_valid_id(text: str) -> None:
    slug = slugify(text)
    assert ID_PATTERN.match(f"job.{slug}")
    assert len(slug) <= 48


def test_kind_parse_accepts_plural_and_names_choices() -> None:
    assert Kind.parse("Jobs") is Kind.JOB
    assert Kind.parse("evidence") is Kind.EVIDENCE
    with pytest.raises(ValueError, match="choose one of: job, outcome"):
        Kind.parse("widgets")
