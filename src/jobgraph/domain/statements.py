"""Deterministic parsers for job statements and desired-outcome statements.

Job statement: "When <circumstance>, I want to <progress>, so I can <benefit>." (seed 002).
Desired outcome: <direction> + <metric> + <object of control> [+ <clarifier>], e.g.
"Minimize the time it takes to verify identity when calling about a blocked card" (seed 001).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

# matches "When my bill looks wrong, I want to resolve it, so I can trust it."
# and "When agents hit a new problem, I want them to have authority, so they feel empowered."
_JOB = re.compile(
    r"^\s*when\s+(?P<circumstance>.+?)\s*,\s*(?:i|we)\s+(?:want|need)\s+(?P<progress>.+?)"
    r"\s*,?\s+so\s+(?:that\s+)?(?P<benefit>.+?)\s*[.!]?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# the pieces a statement that misses the full form may still show, e.g. "I want to pay a bill"
_HAS_WHEN = re.compile(r"^\s*when\b", re.IGNORECASE)
_HAS_WANT = re.compile(r"\b(?:i|we)\s+(?:want|need)\b", re.IGNORECASE)
_HAS_SO = re.compile(r"\bso\s+(?:that\s+)?(?:i|we|they|our|my)\b", re.IGNORECASE)

DIRECTIONS = {
    "minimize": "minimize",
    "minimise": "minimize",
    "reduce": "minimize",
    "decrease": "minimize",
    "lower": "minimize",
    "increase": "increase",
    "maximize": "increase",
    "maximise": "increase",
    "raise": "increase",
}

# longest first so that "the time it takes to" wins over "the time"
METRICS = sorted(
    [
        "the time it takes to",
        "the time it takes for",
        "the time to",
        "the time spent",
        "the time between",
        "the likelihood that",
        "the likelihood of",
        "the probability that",
        "the probability of",
        "the chance that",
        "the risk that",
        "the risk of",
        "the number of",
        "the amount of",
        "the frequency of",
        "the effort it takes to",
        "the effort required to",
        "the cost of",
        "the variability in",
        "the variability of",
        "the variance in",
        "the variance of",
        "the share of",
        "the percentage of",
    ],
    key=len,
    reverse=True,
)

# matches the start of a clarifier inside an object, e.g. " when calling about a card"
_CLARIFIER = re.compile(
    r"\s(?P<word>when|while|during|after|before|if|whenever|once|in case)\s", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class JobStatement:
    circumstance: str
    progress: str
    benefit: str


@dataclass(frozen=True, slots=True)
class OutcomeStatement:
    direction: str
    metric: str
    object_of_control: str
    clarifier: str | None


@dataclass(frozen=True, slots=True)
class ParseResult(Generic[T]):
    value: T | None
    missing: list[str] = field(default_factory=list)
    problem: str | None = None


def parse_job_statement(text: str) -> ParseResult[JobStatement]:
    """Split a job statement into circumstance, progress and benefit, or say what is missing."""
    m = _JOB.match(text)
    if m:
        progress = re.sub(r"^to\s+", "", m["progress"].strip(), flags=re.IGNORECASE)
        return ParseResult(JobStatement(m["circumstance"].strip(), progress, m["benefit"].strip()))
    missing = []
    if not _HAS_WHEN.search(text):
        missing.append("circumstance ('When ...,')")
    if not _HAS_WANT.search(text):
        missing.append("progress ('I want to ...')")
    if not _HAS_SO.search(text):
        missing.append("benefit ('so I can ...')")
    problem = (
        "a job statement reads 'When <circumstance>, I want to <progress>, so I can <benefit>.'"
    )
    return ParseResult(None, missing or ["the parts in the expected order"], problem)


def parse_outcome_statement(text: str) -> ParseResult[OutcomeStatement]:
    """Split a desired outcome into direction, metric, object of control and clarifier."""
    words = text.strip().rstrip(".").split(None, 1)
    if not words:
        return ParseResult(None, ["direction", "metric", "object of control"], "empty statement")
    direction = DIRECTIONS.get(words[0].lower())
    rest = words[1] if len(words) > 1 else ""
    missing: list[str] = []
    if direction is None:
        return ParseResult(
            None,
            ["direction"],
            f"starts with {words[0]!r}; start with a direction such as Minimize or Increase",
        )
    metric = next((m for m in METRICS if rest.lower().startswith(m)), None)
    if metric is None:
        return ParseResult(
            None,
            ["metric"],
            "after the direction, name a metric such as 'the time it takes to', "
            "'the likelihood that' or 'the number of'",
        )
    remainder = rest[len(metric) :].strip()
    clarifier = None
    cm = _CLARIFIER.search(" " + remainder)
    if cm:
        start = cm.start()
        obj = remainder[: max(start - 1, 0)].strip()
        clarifier = remainder[max(start, 0) :].strip()
    else:
        obj = remainder
    if not obj:
        missing.append("object of control")
        return ParseResult(
            None, missing, "say what is controlled, e.g. '... the time it takes to verify identity'"
        )
    return ParseResult(OutcomeStatement(direction, metric, obj, clarifier))
