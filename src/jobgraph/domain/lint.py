"""The linter: every rule the knowledge base is held to, over the whole set of entities at once.

It returns every finding (never stops at the first). Structural problems (dangling references,
impossible stack relations) are always errors. Statement quality problems are errors once an entity
is submitted for review or approved, and warnings while it is a draft, so a researcher can save an
unfinished draft but cannot get it approved.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from jobgraph.domain.entities import (
    Coordination,
    Entity,
    Evidence,
    Job,
    JobLevel,
    Metric,
    Outcome,
    Persona,
    PersonaKind,
    Requirement,
    Scenario,
    StackRelation,
    Status,
    references,
)
from jobgraph.domain.findings import Finding, Level
from jobgraph.domain.lint_words import GOAL_VERBS, SOLUTION_WORDS, VAGUE_WORDS
from jobgraph.domain.panel_metrics import PANEL_METRICS
from jobgraph.domain.statements import parse_job_statement, parse_outcome_statement

MAX_PERSONAS_PER_JOB = 4

# a word, with inner hyphens or apostrophes: "user-friendly", "centre's"
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# "and update", "or cancel", "and then update"
_SECOND_GOAL = re.compile(r"\b(?:and|or)\s+(?:then\s+)?(?P<verb>[a-z]+)\b", re.IGNORECASE)

_REVIEWED = (Status.IN_REVIEW, Status.APPROVED)


def _quality(entity: Entity) -> Level:
    return Level.ERROR if entity.status in _REVIEWED else Level.WARNING


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _word_findings(entity: Entity, field: str, text: str) -> list[Finding]:
    words = _words(text)
    found: list[Finding] = []
    solution = sorted({w for w in words if w in SOLUTION_WORDS})
    if solution:
        found.append(
            Finding(
                Level.WARNING,
                "solution-word",
                f"names a solution ({', '.join(solution)}); state the progress or outcome "
                "independent of any product, channel or technology",
                entity.id,
                field,
            )
        )
    vague = sorted({w for w in words if w in VAGUE_WORDS})
    if vague:
        found.append(
            Finding(
                Level.WARNING,
                "vague-word",
                f"uses vague words ({', '.join(vague)}); say what is measured instead, e.g. "
                "'the time it takes to ...'",
                entity.id,
                field,
            )
        )
    return found


def _compound(entity: Entity, field: str, text: str) -> Finding | None:
    for m in _SECOND_GOAL.finditer(text):
        if m["verb"].lower() in GOAL_VERBS:
            return Finding(
                Level.WARNING,
                "compound-statement",
                f"looks like two goals in one ('{m.group(0)}'); split it into two statements",
                entity.id,
                field,
            )
    return None


def _examples(job: Job) -> list[tuple[str, str, str]]:
    """Every example utterance of a job as (label, field, text): the label is the job id, or
    ``job id/intent name`` for an intent's examples."""
    out = [(job.id, f"examples[{i}]", t) for i, t in enumerate(job.examples)]
    for j, intent in enumerate(job.intents):
        label = f"{job.id}/{intent.name}"
        out += [(label, f"intents[{j}].examples[{i}]", t) for i, t in enumerate(intent.examples)]
    return out


def _example_key(text: str) -> str:
    return " ".join(text.casefold().split())


class _Index:
    def __init__(self, entities: Mapping[str, Entity]) -> None:
        self.entities = entities
        self.supported: set[str] = set()
        self.personas_by_job: dict[str, set[str]] = defaultdict(set)
        self.jobs_by_reason: dict[str, set[str]] = defaultdict(set)
        self.jobs_by_intent: dict[str, set[str]] = defaultdict(set)
        self.labels_by_example: dict[str, set[str]] = defaultdict(set)
        for e in entities.values():
            if e.status is Status.RETIRED:
                continue
            if isinstance(e, Job):
                for reason in e.contact_reasons:
                    self.jobs_by_reason[reason].add(e.id)
                for label, _, text in _examples(e):
                    self.labels_by_example[_example_key(text)].add(label)
                for intent in e.intents:
                    self.jobs_by_intent[intent.name].add(e.id)
            if isinstance(e, Evidence):
                self.supported.update(e.supports)
            elif isinstance(e, Persona):
                for job in e.jobs:
                    self.personas_by_job[job].add(e.id)
            elif isinstance(e, Scenario):
                persona = entities.get(e.persona)
                if persona is not None and persona.status is not Status.RETIRED:
                    self.personas_by_job[e.job].add(e.persona)


def lint(
    entities: Iterable[Entity] | Mapping[str, Entity], today: date | None = None
) -> list[Finding]:
    """Check every entity and the relations between them; return all findings."""
    by_id = dict(entities) if isinstance(entities, Mapping) else {e.id: e for e in entities}
    index = _Index(by_id)
    findings: list[Finding] = []
    for entity in by_id.values():
        findings.extend(_common(entity, index, today))
        if entity.status is Status.RETIRED:
            continue
        match entity:
            case Job():
                findings.extend(_job(entity, index))
            case Outcome():
                findings.extend(_outcome(entity))
            case Persona():
                findings.extend(_persona(entity, index))
            case StackRelation():
                findings.extend(_stack(entity, index))
            case Metric():
                findings.extend(_metric(entity))
            case Evidence():
                findings.extend(_evidence(entity, today))
            case Scenario():
                pass
    findings.extend(_stack_cycles(by_id))
    findings.extend(_successor_loops(by_id))
    return findings


def _successor_loops(by_id: Mapping[str, Entity]) -> list[Finding]:
    found: list[Finding] = []
    for start, entity in by_id.items():
        chain = [start]
        nxt = entity.successor
        while nxt is not None and nxt in by_id:
            if nxt in chain:
                if nxt == start:
                    found.append(
                        Finding(
                            Level.ERROR,
                            "successor-cycle",
                            f"its successors loop back to it ({' -> '.join([*chain, nxt])}); "
                            "retire one of them with a live successor",
                            start,
                            "successor",
                        )
                    )
                break
            chain.append(nxt)
            nxt = by_id[nxt].successor
    return found


def _common(entity: Entity, index: _Index, today: date | None) -> list[Finding]:
    found: list[Finding] = []
    if entity.status is not Status.RETIRED:
        if not (entity.owner or "").strip():
            level = Level.ERROR if entity.status is Status.APPROVED else Level.WARNING
            found.append(
                Finding(
                    level,
                    "no-owner",
                    "has no owner; set `owner` to the person accountable for it",
                    entity.id,
                    "owner",
                )
            )
        if today and entity.review_due and entity.review_due < today:
            found.append(
                Finding(
                    Level.WARNING,
                    "review-overdue",
                    f"review was due on {entity.review_due.isoformat()}; refresh its evidence and "
                    "set a new review_due",
                    entity.id,
                    "review_due",
                )
            )
    if entity.successor and entity.status is not Status.RETIRED:
        found.append(
            Finding(
                Level.ERROR,
                "successor-not-retired",
                "has a successor but is not retired; only retired entities redirect",
                entity.id,
                "successor",
            )
        )
    for field, target, expected in references(entity):
        other = index.entities.get(target)
        if other is None:
            found.append(
                Finding(
                    Level.ERROR,
                    "dangling-reference",
                    f"refers to {target}, which does not exist; create it or fix the id",
                    entity.id,
                    field,
                )
            )
        elif expected is not None and other.kind is not expected:
            found.append(
                Finding(
                    Level.ERROR,
                    "wrong-kind-reference",
                    f"must refer to a {expected.value}, but {target} is a {other.kind.value}",
                    entity.id,
                    field,
                )
            )
        elif (
            other.status is Status.RETIRED
            and field != "successor"
            and entity.status is not Status.RETIRED
        ):
            hint = f"; use its successor {other.successor}" if other.successor else ""
            found.append(
                Finding(
                    Level.WARNING,
                    "retired-reference",
                    f"refers to {target}, which is retired{hint}",
                    entity.id,
                    field,
                )
            )
    return found


def _job(job: Job, index: _Index) -> list[Finding]:
    found: list[Finding] = []
    parsed = parse_job_statement(job.statement)
    if parsed.value is None:
        found.append(
            Finding(
                _quality(job),
                "job-statement-form",
                f"missing {', '.join(parsed.missing)}: {parsed.problem}",
                job.id,
                "statement",
            )
        )
        focus = job.statement
    else:
        focus = f"{parsed.value.progress}"
        compound = _compound(job, "statement", parsed.value.progress)
        if compound:
            found.append(compound)
    found.extend(_word_findings(job, "statement", focus))
    if job.id not in index.supported:
        found.append(
            Finding(
                Level.WARNING,
                "no-evidence",
                "no evidence supports this job; link interviews, observations or data with an "
                "evidence entity's `supports`",
                job.id,
                None,
            )
        )
    for reason in dict.fromkeys(job.contact_reasons):
        others = sorted(index.jobs_by_reason[reason] - {job.id})
        if others:
            found.append(
                Finding(
                    Level.ERROR,
                    "reason-mapped-twice",
                    f"contact reason {reason!r} is also mapped to {', '.join(others)}; a reason "
                    "maps to one job: remove it from all but one",
                    job.id,
                    "contact_reasons",
                )
            )
    found.extend(_example_findings(job, index))
    personas = index.personas_by_job.get(job.id, set())
    if len(personas) > MAX_PERSONAS_PER_JOB:
        found.append(
            Finding(
                Level.WARNING,
                "persona-inflation",
                f"{len(personas)} personas pursue this job ({', '.join(sorted(personas))}); "
                f"keep two to {MAX_PERSONAS_PER_JOB} that differ in behaviour and merge the rest",
                job.id,
                None,
            )
        )
    return found


def _example_findings(job: Job, index: _Index) -> list[Finding]:
    """Example utterances and intents: the classifier's training data must be unambiguous."""
    found: list[Finding] = []
    reported: set[str] = set()
    for label, field, text in _examples(job):
        if not text.strip():
            found.append(
                Finding(
                    Level.ERROR,
                    "empty-example",
                    "an example utterance is blank; write what a customer says, or remove it",
                    job.id,
                    field,
                )
            )
            continue
        key = _example_key(text)
        others = sorted(index.labels_by_example[key] - {label})
        if others and key not in reported:
            reported.add(key)
            found.append(
                Finding(
                    Level.WARNING,
                    "example-duplicated",
                    f"the example {text!r} is also filed under {', '.join(others)}; a classifier "
                    "cannot learn two answers to the same words: keep it under one",
                    job.id,
                    field,
                )
            )
    seen: set[str] = set()
    for j, intent in enumerate(job.intents):
        field = f"intents[{j}].name"
        others = sorted(index.jobs_by_intent[intent.name] - {job.id})
        if intent.name in seen or others:
            where = f"also used by {', '.join(others)}" if others else "used twice in this job"
            found.append(
                Finding(
                    Level.ERROR,
                    "intent-named-twice",
                    f"intent {intent.name!r} is {where}; an intent name belongs to one job: "
                    "rename or merge them",
                    job.id,
                    field,
                )
            )
        seen.add(intent.name)
        if not intent.examples:
            found.append(
                Finding(
                    Level.WARNING,
                    "intent-without-examples",
                    f"intent {intent.name!r} has no example utterances; a classifier cannot "
                    "learn it: add a few (five or more)",
                    job.id,
                    f"intents[{j}]",
                )
            )
    return found


def _outcome(outcome: Outcome) -> list[Finding]:
    found: list[Finding] = []
    parsed = parse_outcome_statement(outcome.statement)
    if parsed.value is None:
        found.append(
            Finding(
                _quality(outcome),
                "outcome-statement-form",
                f"missing {', '.join(parsed.missing)}: {parsed.problem}",
                outcome.id,
                "statement",
            )
        )
        focus = outcome.statement
    else:
        focus = parsed.value.object_of_control
        compound = _compound(outcome, "statement", focus)
        if compound:
            found.append(compound)
    found.extend(
        _word_findings(
            outcome,
            "statement",
            outcome.statement
            if parsed.value is None
            else f"{focus} {parsed.value.clarifier or ''}",
        )
    )
    return found


_BEHAVIOURAL = ("goals", "pain_points", "behaviours", "context_of_use")


def _persona(persona: Persona, index: _Index) -> list[Finding]:
    found: list[Finding] = []
    behavioural = any(getattr(persona, f) for f in _BEHAVIOURAL)
    if not behavioural:
        if persona.demographics:
            found.append(
                Finding(
                    _quality(persona),
                    "demographic-only",
                    "is defined only by demographics; ground it in goals, pain points, behaviours "
                    "and context of use from research",
                    persona.id,
                    "demographics",
                )
            )
        else:
            found.append(
                Finding(
                    _quality(persona),
                    "persona-empty",
                    "has no goals, pain points, behaviours or context of use; "
                    "add them from research",
                    persona.id,
                    None,
                )
            )
    if persona.persona_kind is PersonaKind.OPERATIONAL:
        if not persona.role:
            found.append(
                Finding(
                    Level.WARNING,
                    "operational-role",
                    "an operational persona should name its internal role",
                    persona.id,
                    "role",
                )
            )
        if not persona.systems_used:
            found.append(
                Finding(
                    Level.WARNING,
                    "operational-systems",
                    "an operational persona should list the systems it relies on",
                    persona.id,
                    "systems_used",
                )
            )
    if persona.id not in index.supported:
        found.append(
            Finding(
                Level.WARNING,
                "no-evidence",
                "no evidence supports this persona; personas without research are fiction",
                persona.id,
                None,
            )
        )
    return found


def _stack(rel: StackRelation, index: _Index) -> list[Finding]:
    found: list[Finding] = []
    if rel.parent == rel.child:
        found.append(
            Finding(Level.ERROR, "stack-self", "a job cannot be related to itself", rel.id, "child")
        )
    if rel.requirement is Requirement.INTERCHANGEABLE and not rel.group:
        found.append(
            Finding(
                Level.ERROR,
                "stack-group",
                "an interchangeable related job needs a `group` naming its set of alternatives",
                rel.id,
                "group",
            )
        )
    if rel.group and rel.requirement is not Requirement.INTERCHANGEABLE:
        found.append(
            Finding(
                Level.WARNING,
                "stack-group",
                "`group` is only meaningful for interchangeable related jobs",
                rel.id,
                "group",
            )
        )
    if rel.coordination is Coordination.SEQUENTIAL and rel.order is None:
        found.append(
            Finding(
                Level.ERROR,
                "stack-order",
                "a sequential related job needs an `order` (1, 2, ...)",
                rel.id,
                "order",
            )
        )
    if rel.order is not None and rel.coordination is not Coordination.SEQUENTIAL:
        found.append(
            Finding(
                Level.WARNING,
                "stack-order",
                "`order` is only meaningful for sequential coordination",
                rel.id,
                "order",
            )
        )
    if rel.coordination is Coordination.CO_EXECUTED and not rel.co_executors:
        found.append(
            Finding(
                Level.WARNING,
                "stack-co-executors",
                "name the co-executors (people or provider) of a co-executed job",
                rel.id,
                "co_executors",
            )
        )
    parent = index.entities.get(rel.parent)
    if isinstance(parent, Job) and parent.level is not JobLevel.HIGH_LEVEL:
        found.append(
            Finding(
                Level.WARNING,
                "stack-parent-level",
                f"{parent.id} heads a job stack but its level is {parent.level.value}; "
                "set it to high_level",
                rel.id,
                "parent",
            )
        )
    return found


def _stack_cycles(by_id: Mapping[str, Entity]) -> list[Finding]:
    children: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in by_id.values():
        if isinstance(e, StackRelation) and e.status is not Status.RETIRED:
            children[e.parent].append((e.child, e.id))
    found: list[Finding] = []
    state: dict[str, int] = {}

    def visit(node: str, via: str | None) -> None:
        state[node] = 1
        for child, rel_id in children.get(node, []):
            if child == node:
                continue  # reported as stack-self
            if state.get(child) == 1:
                found.append(
                    Finding(
                        Level.ERROR,
                        "stack-cycle",
                        f"closes a cycle in the job stack ({node} -> {child}); a related job "
                        "cannot contain its own high-level job",
                        rel_id,
                        "child",
                    )
                )
            elif child not in state:
                visit(child, rel_id)
        state[node] = 2

    for node in sorted(children):
        if node not in state:
            visit(node, None)
    return found


def _metric(metric: Metric) -> list[Finding]:
    found = []
    if not metric.jobs and not metric.outcomes:
        found.append(
            Finding(
                Level.WARNING,
                "metric-unlinked",
                "measures nothing in the knowledge base; link it to jobs or outcomes",
                metric.id,
                "jobs",
            )
        )
    if metric.panel_column is not None and metric.panel_column not in PANEL_METRICS:
        found.append(
            Finding(
                Level.ERROR,
                "unknown-panel-column",
                f"panel_column {metric.panel_column!r} is not a job-panel metric; use one of "
                f"{', '.join(PANEL_METRICS)}",
                metric.id,
                "panel_column",
            )
        )
    return found


def _evidence(ev: Evidence, today: date | None) -> list[Finding]:
    found: list[Finding] = []
    if today and ev.collected_on > today:
        found.append(
            Finding(
                Level.ERROR,
                "evidence-future-date",
                f"collected_on {ev.collected_on.isoformat()} is in the future",
                ev.id,
                "collected_on",
            )
        )
    if not ev.supports:
        found.append(
            Finding(
                Level.WARNING,
                "evidence-unlinked",
                "supports nothing; list the entities it supports in `supports`",
                ev.id,
                "supports",
            )
        )
    return found
