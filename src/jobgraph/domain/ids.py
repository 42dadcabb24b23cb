"""Stable, human-readable entity ids: ``<kind>.<slug>``, e.g. ``job.resolve-billing-anomaly``."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Kind(StrEnum):
    """The canonical entity kinds; the value is the id prefix."""

    JOB = "job"
    OUTCOME = "outcome"
    PERSONA = "persona"
    SCENARIO = "scenario"
    STACK = "stack"
    EVIDENCE = "evidence"
    METRIC = "metric"

    @property
    def plural(self) -> str:
        return _PLURALS[self]

    @classmethod
    def parse(cls, text: str) -> Kind:
        """Accept 'job', 'jobs', 'Job'; raise ValueError naming the choices otherwise."""
        t = text.strip().lower()
        for kind in cls:
            if t in (kind.value, kind.plural):
                return kind
        choices = ", ".join(k.value for k in cls)
        raise ValueError(f"unknown kind {text!r}; choose one of: {choices}")


_PLURALS = {
    Kind.JOB: "jobs",
    Kind.OUTCOME: "outcomes",
    Kind.PERSONA: "personas",
    Kind.SCENARIO: "scenarios",
    Kind.STACK: "stacks",
    Kind.EVIDENCE: "evidence",
    Kind.METRIC: "metrics",
}

# matches "job.resolve-billing-anomaly", "outcome.fcr-7d"; not "Job.X", "job.", "job.-a"
ID_PATTERN = re.compile(r"^(?P<kind>[a-z]+)\.(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)$")
MAX_SLUG = 64


def parse_id(entity_id: str) -> tuple[Kind, str]:
    """Split an id into kind and slug; raise ValueError saying what a good id looks like."""
    m = ID_PATTERN.match(entity_id)
    if not m:
        raise ValueError(
            f"invalid id {entity_id!r}: use <kind>.<slug> with lowercase letters, digits and "
            "single hyphens, e.g. job.resolve-billing-anomaly"
        )
    try:
        kind = Kind(m["kind"])
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise ValueError(
            f"invalid id {entity_id!r}: unknown kind prefix {m['kind']!r}; use one of: {choices}"
        ) from None
    if len(m["slug"]) > MAX_SLUG:
        raise ValueError(f"invalid id {entity_id!r}: the slug is longer than {MAX_SLUG} characters")
    return kind, m["slug"]


def kind_of(entity_id: str) -> Kind:
    return parse_id(entity_id)[0]


def slugify(text: str, max_length: int = 48) -> str:
    """Make a slug from free text: 'Resolve a billing anomaly!' -> 'resolve-a-billing-anomaly'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # runs of anything but letters and digits, e.g. " & " or "--"
    words = re.split(r"[^a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in (w for w in words if w):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or "untitled"


def make_id(kind: Kind, title: str) -> str:
    return f"{kind.value}.{slugify(title)}"
