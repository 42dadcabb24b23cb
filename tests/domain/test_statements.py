from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobgraph.domain.statements import parse_job_statement, parse_outcome_statement


def test_seed_002_statement_parses_into_its_three_parts() -> None:
    text = (
        "When my call centre is seen as a commodity and facing margin pressure, I want to "
        "deliver genuinely helpful and outcome-focused interactions, so I can differentiate "
        "our service and retain clients."
    )
    parsed = parse_job_statement(text).value
    assert parsed is not None
    assert parsed.circumstance == "my call centre is seen as a commodity and facing margin pressure"
    assert parsed.progress == "deliver genuinely helpful and outcome-focused interactions"
    assert parsed.benefit == "I can differentiate our service and retain clients"


def test_statement_about_others_and_so_they_parses() -> None:
    text = (
        "When agents encounter non-standard customer problems, I want them to have the "
        "knowledge and authority to provide a complete solution, so they feel empowered."
    )
    parsed = parse_job_statement(text).value
    assert parsed is not None
    assert parsed.benefit == "they feel empowered"


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("I want to pay a bill, so I can keep my credit score.", "circumstance"),
        ("When a bill arrives, so I can keep my score.", "progress"),
        ("When a bill arrives, I want to pay it.", "benefit"),
    ],
)
def test_missing_parts_are_named(text: str, missing: str) -> None:
    result = parse_job_statement(text)
    assert result.value is None
    assert any(missing in m for m in result.missing)


def test_outcome_parts_from_seed_001_example() -> None:
    parsed = parse_outcome_statement(
        "Minimize the time it takes to verify identity when calling about a blocked card"
    ).value
    assert parsed is not None
    assert (parsed.direction, parsed.metric) == ("minimize", "the time it takes to")
    assert parsed.object_of_control == "verify identity"
    assert parsed.clarifier == "when calling about a blocked card"


def test_outcome_without_direction_or_metric_or_object() -> None:
    assert parse_outcome_statement("Improve the time it takes to pay").missing == ["direction"]
    assert parse_outcome_statement("Minimize waiting").missing == ["metric"]
    assert parse_outcome_statement("Minimize the number of").missing == ["object of control"]


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8).filter(
    lambda w: (
        w
        not in {
            "so",
            "when",
            "want",
            "need",
            "that",
            "to",
            "i",
            "we",
            "if",
            "while",
            "during",
            "after",
            "before",
            "whenever",
            "once",
            "in",
        }
    )
)
phrase = st.lists(words, min_size=1, max_size=6).map(" ".join)


@given(phrase, phrase, phrase)
def test_job_statement_round_trip(circumstance: str, progress: str, benefit: str) -> None:
    text = f"When {circumstance}, I want to {progress}, so I can {benefit}."
    parsed = parse_job_statement(text).value
    assert parsed is not None
    assert (parsed.circumstance, parsed.progress, parsed.benefit) == (
        circumstance,
        progress,
        f"I can {benefit}",
    )


@given(
    st.sampled_from(["Minimize", "Increase"]),
    st.sampled_from(["the time it takes to", "the likelihood that", "the number of"]),
    phrase,
    st.one_of(st.none(), phrase),
)
def test_outcome_statement_round_trip(
    direction: str, metric: str, obj: str, clarifier: str | None
) -> None:
    clause = f" when {clarifier}" if clarifier else ""
    parsed = parse_outcome_statement(f"{direction} {metric} {obj}{clause}").value
    assert parsed is not None
    assert parsed.object_of_control == obj
    assert parsed.clarifier == (f"when {clarifier}" if clarifier else None)
