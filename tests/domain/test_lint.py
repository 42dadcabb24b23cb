"""Tests for the linter: every rule, its level, and where it points (entity and field)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobgraph.domain.entities import (
    Coordination,
    Entity,
    Evidence,
    EvidenceKind,
    Job,
    JobLevel,
    JourneyStep,
    Metric,
    Outcome,
    Persona,
    PersonaKind,
    Requirement,
    Scenario,
    StackRelation,
    Status,
)
from jobgraph.domain.findings import Finding, Level
from jobgraph.domain.lint import MAX_PERSONAS_PER_JOB, lint

TODAY = date(2026, 11, 23)
STATEMENT = "When a bill arrives, I want to pay it on time, so I can keep my credit score."
JOB_ID = "job.pay-a-bill"
PERSONA_ID = "persona.busy-parent"


# --- builders with valid defaults -------------------------------------------------------------


def job(**overrides: Any) -> Job:
    data: dict[str, Any] = {
        "id": JOB_ID,
        "title": "Pay a bill",
        "owner": "alice",
        "statement": STATEMENT,
    }
    return Job(**(data | overrides))


def outcome(**overrides: Any) -> Outcome:
    data: dict[str, Any] = {
        "id": "outcome.pay-on-time",
        "title": "Pay on time",
        "owner": "alice",
        "job": JOB_ID,
        "statement": "Minimize the time it takes to pay a bill after it arrives",
    }
    return Outcome(**(data | overrides))


def persona(**overrides: Any) -> Persona:
    data: dict[str, Any] = {
        "id": PERSONA_ID,
        "title": "Busy parent",
        "owner": "alice",
        "goals": ["keep the household's bills paid without thinking about them"],
    }
    return Persona(**(data | overrides))


def evidence(**overrides: Any) -> Evidence:
    data: dict[str, Any] = {
        "id": "evidence.interview-1",
        "title": "Interview 1",
        "owner": "alice",
        "evidence_kind": EvidenceKind.INTERVIEW,
        "source": "Interview with a customer",
        "collected_on": date(2026, 10, 1),
        "summary": "Pays bills the day they arrive to protect a credit score.",
        "supports": [JOB_ID, PERSONA_ID],
    }
    return Evidence(**(data | overrides))


def scenario(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "id": "scenario.parent-pays",
        "title": "A parent pays a bill",
        "owner": "alice",
        "persona": PERSONA_ID,
        "job": JOB_ID,
        "circumstance": "A bill arrives at the end of the month",
    }
    return Scenario(**(data | overrides))


def stack(**overrides: Any) -> StackRelation:
    data: dict[str, Any] = {
        "id": "stack.a-b",
        "title": "A needs B",
        "owner": "alice",
        "parent": "job.a",
        "child": "job.b",
    }
    return StackRelation(**(data | overrides))


def metric(**overrides: Any) -> Metric:
    data: dict[str, Any] = {
        "id": "metric.days-to-pay",
        "title": "Days to pay",
        "owner": "alice",
        "measures": "days between a bill arriving and being paid",
        "unit": "days",
        "direction": "decrease",
        "jobs": [JOB_ID],
    }
    return Metric(**(data | overrides))


def stack_jobs() -> list[Job]:
    """Two jobs for stack relations; job.a heads the stack."""
    return [
        job(id="job.a", title="A", level=JobLevel.HIGH_LEVEL),
        job(id="job.b", title="B", level=JobLevel.HIGH_LEVEL),
    ]


def run(*entities: Entity, today: date | None = TODAY) -> list[Finding]:
    return lint(list(entities), today=today)


def of(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


def one(findings: list[Finding], code: str) -> Finding:
    matching = of(findings, code)
    assert len(matching) == 1, f"expected one {code}, got {findings}"
    return matching[0]


def assert_finding(f: Finding, level: Level, entity_id: str | None, field: str | None) -> None:
    assert (f.level, f.entity_id, f.field) == (level, entity_id, field), f
    assert f.message


# --- a clean knowledge base -------------------------------------------------------------------


def test_clean_knowledge_base_has_no_findings() -> None:
    entities = [
        job(status=Status.APPROVED, review_due=TODAY),
        outcome(status=Status.APPROVED),
        persona(jobs=[JOB_ID], status=Status.APPROVED),
        evidence(),
        scenario(),
        metric(outcomes=["outcome.pay-on-time"]),
        *stack_jobs(),
        stack(),
    ]
    # the stack jobs need evidence too
    entities.append(evidence(id="evidence.stack", supports=["job.a", "job.b"]))
    assert run(*entities) == []


def test_accepts_a_mapping_of_entities() -> None:
    j = job(owner=None)
    findings = lint({j.id: j}, today=TODAY)
    assert one(findings, "no-owner").entity_id == JOB_ID


def test_returns_every_finding_not_just_the_first() -> None:
    findings = run(job(owner=None, statement="Pay the bill quickly in the app"))
    assert {f.code for f in findings} >= {
        "no-owner",
        "job-statement-form",
        "solution-word",
        "vague-word",
        "no-evidence",
    }


# --- job statements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "level"),
    [
        (Status.DRAFT, Level.WARNING),
        (Status.IN_REVIEW, Level.ERROR),
        (Status.APPROVED, Level.ERROR),
    ],
)
def test_job_statement_missing_parts(status: Status, level: Level) -> None:
    f = one(run(job(statement="Pay the bill on time", status=status)), "job-statement-form")
    assert_finding(f, level, JOB_ID, "statement")
    assert "circumstance" in f.message
    assert "progress" in f.message
    assert "benefit" in f.message


@pytest.mark.parametrize(
    ("statement", "missing", "present"),
    [
        ("I want to pay a bill, so I can keep my credit score.", "circumstance", "benefit"),
        ("When a bill arrives, I want to pay it.", "benefit", "circumstance"),
    ],
)
def test_job_statement_names_only_the_missing_part(
    statement: str, missing: str, present: str
) -> None:
    f = one(run(job(statement=statement)), "job-statement-form")
    listed = f.message.split(":")[0]  # "missing <parts>: <how a statement reads>"
    assert missing in listed
    assert present not in listed


def test_well_formed_job_statement_is_not_flagged() -> None:
    assert of(run(job(status=Status.APPROVED)), "job-statement-form") == []


# --- solution words, vague words, compound statements -----------------------------------------


def test_solution_word_in_job() -> None:
    j = job(statement="When a bill arrives, I want to pay it in the app, so I can keep my score.")
    f = one(run(j), "solution-word")
    assert_finding(f, Level.WARNING, JOB_ID, "statement")
    assert "app" in f.message


def test_solution_word_in_unparsed_job_statement() -> None:
    f = one(run(job(statement="Pay the bill with the chatbot")), "solution-word")
    assert_finding(f, Level.WARNING, JOB_ID, "statement")
    assert "chatbot" in f.message


def test_solution_word_in_outcome() -> None:
    o = outcome(statement="Minimize the time it takes to pay a bill on the portal")
    f = one(run(job(), o), "solution-word")
    assert_finding(f, Level.WARNING, "outcome.pay-on-time", "statement")
    assert "portal" in f.message


def test_solution_word_in_outcome_clarifier() -> None:
    o = outcome(statement="Minimize the time it takes to pay a bill when using the website")
    f = one(run(job(), o), "solution-word")
    assert "website" in f.message


def test_vague_word_in_job() -> None:
    j = job(statement="When a bill arrives, I want to pay it quickly, so I can keep my score.")
    f = one(run(j), "vague-word")
    assert_finding(f, Level.WARNING, JOB_ID, "statement")
    assert "quickly" in f.message


def test_vague_word_in_outcome() -> None:
    o = outcome(statement="Minimize the time it takes to pay a bill easily")
    f = one(run(job(), o), "vague-word")
    assert_finding(f, Level.WARNING, "outcome.pay-on-time", "statement")
    assert "easily" in f.message


def test_clean_statements_have_no_word_findings() -> None:
    findings = run(job(), outcome())
    assert of(findings, "solution-word") == []
    assert of(findings, "vague-word") == []


def test_compound_job_statement_is_flagged() -> None:
    j = job(
        statement="When a charge looks wrong, I want to resolve the charge and update my "
        "address, so I can trust my bill."
    )
    f = one(run(j), "compound-statement")
    assert_finding(f, Level.WARNING, JOB_ID, "statement")
    assert "and update" in f.message


def test_compound_outcome_statement_is_flagged() -> None:
    o = outcome(statement="Minimize the time it takes to resolve the charge and update my address")
    f = one(run(job(), o), "compound-statement")
    assert_finding(f, Level.WARNING, "outcome.pay-on-time", "statement")


def test_and_joining_adjectives_is_not_compound() -> None:
    j = job(
        statement="When margins are under pressure, I want to deliver helpful and "
        "outcome-focused interactions, so I can retain clients."
    )
    assert of(run(j), "compound-statement") == []


def test_and_in_the_benefit_is_not_compound() -> None:
    j = job(
        statement="When a bill arrives, I want to pay it on time, so I can keep my score "
        "and avoid late fees."
    )
    assert of(run(j), "compound-statement") == []


# --- outcome statements -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "missing"),
    [
        ("Make paying a bill take less time", "direction"),
        ("Minimize paying late", "metric"),
        ("Minimize the time it takes to", "object of control"),
        ("Minimize the time it takes to when a bill arrives", "object of control"),
    ],
)
@pytest.mark.parametrize(
    ("status", "level"),
    [(Status.DRAFT, Level.WARNING), (Status.IN_REVIEW, Level.ERROR)],
)
def test_outcome_statement_form(statement: str, missing: str, status: Status, level: Level) -> None:
    f = one(run(job(), outcome(statement=statement, status=status)), "outcome-statement-form")
    assert_finding(f, level, "outcome.pay-on-time", "statement")
    assert missing in f.message


def test_well_formed_outcome_is_not_flagged() -> None:
    assert of(run(job(), outcome(status=Status.APPROVED)), "outcome-statement-form") == []


# --- personas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "level"),
    [(Status.DRAFT, Level.WARNING), (Status.APPROVED, Level.ERROR)],
)
def test_persona_defined_only_by_demographics(status: Status, level: Level) -> None:
    p = persona(goals=[], demographics={"age": "35-44", "region": "north"}, status=status)
    findings = run(p, evidence())
    assert_finding(one(findings, "demographic-only"), level, PERSONA_ID, "demographics")
    assert of(findings, "persona-empty") == []


def test_persona_with_demographics_and_behaviour_is_not_demographic_only() -> None:
    p = persona(demographics={"age": "35-44"}, behaviours=["pays bills on the day they arrive"])
    assert of(run(p, evidence()), "demographic-only") == []


@pytest.mark.parametrize(
    ("status", "level"),
    [(Status.DRAFT, Level.WARNING), (Status.IN_REVIEW, Level.ERROR)],
)
def test_empty_persona(status: Status, level: Level) -> None:
    findings = run(persona(goals=[], status=status), evidence())
    assert_finding(one(findings, "persona-empty"), level, PERSONA_ID, None)
    assert of(findings, "demographic-only") == []


@pytest.mark.parametrize("field", ["goals", "pain_points", "behaviours", "context_of_use"])
def test_any_behavioural_field_makes_a_persona_non_empty(field: str) -> None:
    p = persona(**({"goals": []} | {field: ["something from research"]}))
    findings = run(p, evidence())
    assert of(findings, "persona-empty") == []
    assert of(findings, "demographic-only") == []


def test_operational_persona_without_role_or_systems() -> None:
    p = persona(persona_kind=PersonaKind.OPERATIONAL)
    findings = run(p, evidence())
    assert_finding(one(findings, "operational-role"), Level.WARNING, PERSONA_ID, "role")
    assert_finding(one(findings, "operational-systems"), Level.WARNING, PERSONA_ID, "systems_used")


def test_operational_persona_with_role_and_systems() -> None:
    p = persona(persona_kind=PersonaKind.OPERATIONAL, role="billing agent", systems_used=["CRM"])
    findings = run(p, evidence())
    assert of(findings, "operational-role") == []
    assert of(findings, "operational-systems") == []


def test_customer_persona_needs_no_role_or_systems() -> None:
    findings = run(persona(), evidence())
    assert of(findings, "operational-role") == []
    assert of(findings, "operational-systems") == []


# --- persona inflation ------------------------------------------------------------------------


def personas_on_job(n: int, **overrides: Any) -> list[Persona]:
    return [
        persona(id=f"persona.p{i}", title=f"P{i}", jobs=[JOB_ID], **overrides) for i in range(n)
    ]


def test_five_personas_on_one_job_is_inflation() -> None:
    f = one(run(job(), *personas_on_job(MAX_PERSONAS_PER_JOB + 1)), "persona-inflation")
    assert_finding(f, Level.WARNING, JOB_ID, None)
    assert "5 personas" in f.message


def test_four_personas_on_one_job_is_fine() -> None:
    assert of(run(job(), *personas_on_job(MAX_PERSONAS_PER_JOB)), "persona-inflation") == []


def test_personas_via_scenarios_count_towards_inflation() -> None:
    via_jobs = personas_on_job(3)
    extra = [persona(id=f"persona.s{i}", title=f"S{i}") for i in range(2)]
    scenarios = [scenario(id=f"scenario.s{i}", persona=p.id) for i, p in enumerate(extra)]
    f = one(run(job(), *via_jobs, *extra, *scenarios), "persona-inflation")
    assert_finding(f, Level.WARNING, JOB_ID, None)


def test_persona_counted_once_via_jobs_and_scenario() -> None:
    personas = personas_on_job(4)
    scenarios = [scenario(id=f"scenario.s{i}", persona=p.id) for i, p in enumerate(personas)]
    assert of(run(job(), *personas, *scenarios), "persona-inflation") == []


def test_retired_personas_do_not_count_towards_inflation() -> None:
    personas = [
        *personas_on_job(4),
        persona(id="persona.old", status=Status.RETIRED, jobs=[JOB_ID]),
    ]
    assert of(run(job(), *personas), "persona-inflation") == []


def test_retired_persona_via_scenario_does_not_count_towards_inflation() -> None:
    old = persona(id="persona.old", title="Old", status=Status.RETIRED)
    entities = [job(), *personas_on_job(4), old, scenario(persona="persona.old")]
    assert of(run(*entities), "persona-inflation") == []


# --- governance: owner, evidence, review ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "level"),
    [
        (Status.DRAFT, Level.WARNING),
        (Status.IN_REVIEW, Level.WARNING),  # docs/linter.md: error only when approved
        (Status.APPROVED, Level.ERROR),
    ],
)
@pytest.mark.parametrize("owner", [None, ""])
def test_no_owner(status: Status, level: Level, owner: str | None) -> None:
    f = one(run(job(owner=owner, status=status), evidence()), "no-owner")
    assert_finding(f, level, JOB_ID, "owner")


def test_owner_set_is_not_flagged() -> None:
    assert of(run(job(status=Status.APPROVED), evidence()), "no-owner") == []


def test_no_evidence_for_job() -> None:
    f = one(run(job()), "no-evidence")
    assert_finding(f, Level.WARNING, JOB_ID, None)


def test_no_evidence_for_persona() -> None:
    f = one(run(persona()), "no-evidence")
    assert_finding(f, Level.WARNING, PERSONA_ID, None)


def test_evidence_clears_no_evidence() -> None:
    assert of(run(job(), persona(), evidence()), "no-evidence") == []


def test_retired_evidence_does_not_count() -> None:
    findings = run(job(), persona(), evidence(status=Status.RETIRED))
    assert {f.entity_id for f in of(findings, "no-evidence")} == {JOB_ID, PERSONA_ID}


def test_review_overdue() -> None:
    f = one(run(job(review_due=TODAY - timedelta(days=1))), "review-overdue")
    assert_finding(f, Level.WARNING, JOB_ID, "review_due")
    assert "2026-11-22" in f.message


def test_review_due_today_or_later_is_not_overdue() -> None:
    assert of(run(job(review_due=TODAY)), "review-overdue") == []
    assert of(run(job(review_due=TODAY + timedelta(days=30))), "review-overdue") == []


def test_review_overdue_needs_today() -> None:
    assert of(run(job(review_due=date(2020, 1, 1)), today=None), "review-overdue") == []


def test_retired_entity_is_never_overdue() -> None:
    j = job(review_due=date(2020, 1, 1), status=Status.RETIRED)
    assert of(run(j), "review-overdue") == []


# --- references -------------------------------------------------------------------------------


def test_dangling_reference() -> None:
    f = one(run(outcome(job="job.does-not-exist")), "dangling-reference")
    assert_finding(f, Level.ERROR, "outcome.pay-on-time", "job")
    assert "job.does-not-exist" in f.message


def test_dangling_reference_in_a_journey_step() -> None:
    s = scenario(steps=[JourneyStep(name="Call", operational_persona="persona.ghost")])
    f = one(run(job(), persona(), s), "dangling-reference")
    assert_finding(f, Level.ERROR, "scenario.parent-pays", "steps[0].operational_persona")


def test_dangling_evidence_support() -> None:
    f = one(run(evidence(supports=["job.nope"])), "dangling-reference")
    assert_finding(f, Level.ERROR, "evidence.interview-1", "supports")


def test_existing_references_are_not_dangling() -> None:
    findings = run(job(), persona(jobs=[JOB_ID]), outcome(), scenario(), evidence(), metric())
    assert of(findings, "dangling-reference") == []
    assert of(findings, "wrong-kind-reference") == []


def test_wrong_kind_reference() -> None:
    f = one(run(persona(), outcome(job=PERSONA_ID)), "wrong-kind-reference")
    assert_finding(f, Level.ERROR, "outcome.pay-on-time", "job")
    assert "persona" in f.message
    assert of(run(persona(), outcome(job=PERSONA_ID)), "dangling-reference") == []


def test_evidence_may_support_any_kind() -> None:
    findings = run(job(), outcome(), evidence(supports=["outcome.pay-on-time"]))
    assert of(findings, "wrong-kind-reference") == []


def test_reference_to_retired_entity_mentions_successor() -> None:
    old = job(status=Status.RETIRED, successor="job.pay-bills")
    new = job(id="job.pay-bills", title="Pay bills")
    f = one(run(old, new, outcome()), "retired-reference")
    assert_finding(f, Level.WARNING, "outcome.pay-on-time", "job")
    assert JOB_ID in f.message
    assert "job.pay-bills" in f.message


def test_reference_to_retired_entity_without_successor() -> None:
    f = one(run(job(status=Status.RETIRED), outcome()), "retired-reference")
    assert_finding(f, Level.WARNING, "outcome.pay-on-time", "job")
    assert "successor" not in f.message


def test_retired_entity_may_refer_to_retired_entity() -> None:
    findings = run(job(status=Status.RETIRED), outcome(status=Status.RETIRED))
    assert of(findings, "retired-reference") == []


def test_successor_pointing_at_retired_is_not_a_retired_reference() -> None:
    a = job(status=Status.RETIRED, successor="job.b")
    b = job(id="job.b", title="B", status=Status.RETIRED)
    assert of(run(a, b), "retired-reference") == []


def test_successor_on_a_live_entity() -> None:
    findings = run(job(successor="job.b"), job(id="job.b", title="B"))
    assert_finding(one(findings, "successor-not-retired"), Level.ERROR, JOB_ID, "successor")


def test_successor_on_a_retired_entity_is_fine() -> None:
    findings = run(job(status=Status.RETIRED, successor="job.b"), job(id="job.b", title="B"))
    assert of(findings, "successor-not-retired") == []


# --- job stacks -------------------------------------------------------------------------------

STACK_CODES = {
    "stack-self",
    "stack-group",
    "stack-order",
    "stack-co-executors",
    "stack-parent-level",
    "stack-cycle",
}


def stack_findings(*relations: StackRelation, jobs: list[Job] | None = None) -> list[Finding]:
    return [
        f
        for f in run(*(stack_jobs() if jobs is None else jobs), *relations)
        if f.code in STACK_CODES
    ]


def test_valid_stack_relations_have_no_stack_findings() -> None:
    assert stack_findings(stack()) == []
    assert stack_findings(stack(requirement=Requirement.INTERCHANGEABLE, group="pay")) == []
    assert stack_findings(stack(coordination=Coordination.SEQUENTIAL, order=1)) == []
    assert stack_findings(stack(coordination=Coordination.CO_EXECUTED, co_executors=["bank"])) == []


def test_stack_self() -> None:
    findings = stack_findings(stack(child="job.a"))
    assert_finding(one(findings, "stack-self"), Level.ERROR, "stack.a-b", "child")


def test_interchangeable_without_group() -> None:
    f = one(stack_findings(stack(requirement=Requirement.INTERCHANGEABLE)), "stack-group")
    assert_finding(f, Level.ERROR, "stack.a-b", "group")


def test_group_without_interchangeable() -> None:
    f = one(stack_findings(stack(group="pay")), "stack-group")
    assert_finding(f, Level.WARNING, "stack.a-b", "group")


def test_sequential_without_order() -> None:
    f = one(stack_findings(stack(coordination=Coordination.SEQUENTIAL)), "stack-order")
    assert_finding(f, Level.ERROR, "stack.a-b", "order")


def test_order_without_sequential() -> None:
    f = one(stack_findings(stack(order=2)), "stack-order")
    assert_finding(f, Level.WARNING, "stack.a-b", "order")


def test_co_executed_without_co_executors() -> None:
    f = one(stack_findings(stack(coordination=Coordination.CO_EXECUTED)), "stack-co-executors")
    assert_finding(f, Level.WARNING, "stack.a-b", "co_executors")


def test_parent_not_high_level() -> None:
    jobs = [job(id="job.a", title="A"), job(id="job.b", title="B")]
    f = one(stack_findings(stack(), jobs=jobs), "stack-parent-level")
    assert_finding(f, Level.WARNING, "stack.a-b", "parent")
    assert "job.a" in f.message


def test_stack_cycle() -> None:
    findings = stack_findings(stack(), stack(id="stack.b-a", parent="job.b", child="job.a"))
    f = one(findings, "stack-cycle")
    assert_finding(f, Level.ERROR, "stack.b-a", "child")


def test_longer_stack_cycle() -> None:
    jobs = [job(id=f"job.{n}", title=n, level=JobLevel.HIGH_LEVEL) for n in "abc"]
    rels = [
        stack(id="stack.a-b", parent="job.a", child="job.b"),
        stack(id="stack.b-c", parent="job.b", child="job.c"),
        stack(id="stack.c-a", parent="job.c", child="job.a"),
    ]
    assert one(stack_findings(*rels, jobs=jobs), "stack-cycle").level is Level.ERROR


def test_diamond_is_not_a_cycle() -> None:
    jobs = [job(id=f"job.{n}", title=n, level=JobLevel.HIGH_LEVEL) for n in "abcd"]
    rels = [
        stack(id="stack.a-b", parent="job.a", child="job.b"),
        stack(id="stack.a-c", parent="job.a", child="job.c"),
        stack(id="stack.b-d", parent="job.b", child="job.d"),
        stack(id="stack.c-d", parent="job.c", child="job.d"),
        stack(id="stack.c-b", parent="job.c", child="job.b"),
    ]
    assert stack_findings(*rels, jobs=jobs) == []


def test_retired_relation_does_not_close_a_cycle() -> None:
    rels = [stack(), stack(id="stack.b-a", parent="job.b", child="job.a", status=Status.RETIRED)]
    assert of(stack_findings(*rels), "stack-cycle") == []


# --- metrics and evidence ---------------------------------------------------------------------


def test_metric_unlinked() -> None:
    f = one(run(metric(jobs=[])), "metric-unlinked")
    assert_finding(f, Level.WARNING, "metric.days-to-pay", "jobs")


def test_metric_linked_to_jobs_or_outcomes() -> None:
    assert of(run(job(), metric()), "metric-unlinked") == []
    linked_to_outcome = metric(jobs=[], outcomes=["outcome.pay-on-time"])
    assert of(run(job(), outcome(), linked_to_outcome), "metric-unlinked") == []


def test_evidence_collected_in_the_future() -> None:
    ev = evidence(collected_on=TODAY + timedelta(days=1))
    f = one(run(job(), persona(), ev), "evidence-future-date")
    assert_finding(f, Level.ERROR, "evidence.interview-1", "collected_on")


def test_evidence_collected_today_or_without_a_clock() -> None:
    assert of(run(job(), persona(), evidence(collected_on=TODAY)), "evidence-future-date") == []
    future = evidence(collected_on=date(2030, 1, 1))
    assert of(run(job(), persona(), future, today=None), "evidence-future-date") == []


def test_evidence_supporting_nothing() -> None:
    f = one(run(evidence(supports=[])), "evidence-unlinked")
    assert_finding(f, Level.WARNING, "evidence.interview-1", "supports")


def test_evidence_supporting_something_is_linked() -> None:
    assert of(run(job(), persona(), evidence()), "evidence-unlinked") == []


# --- retired entities -------------------------------------------------------------------------


def test_retired_entities_skip_content_rules() -> None:
    entities = [
        job(
            status=Status.RETIRED,
            owner=None,
            statement="Pay the bill quickly in the app and update my address",
        ),
        outcome(status=Status.RETIRED, statement="Faster app"),
        persona(status=Status.RETIRED, goals=[], persona_kind=PersonaKind.OPERATIONAL),
        *[p for p in personas_on_job(5, status=Status.RETIRED)],
        evidence(status=Status.RETIRED, supports=[], collected_on=date(2030, 1, 1)),
        metric(status=Status.RETIRED, jobs=[]),
        stack(
            status=Status.RETIRED,
            parent=JOB_ID,
            child=JOB_ID,
            requirement=Requirement.INTERCHANGEABLE,
            coordination=Coordination.SEQUENTIAL,
        ),
    ]
    assert run(*entities) == []


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    job_statement=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=200,
    ),
    outcome_statement=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=200,
    ),
    job_status=st.sampled_from(Status),
    outcome_status=st.sampled_from(Status),
)
def test_lint_never_raises_and_findings_are_well_formed(
    job_statement: str, outcome_statement: str, job_status: Status, outcome_status: Status
) -> None:
    entities = [
        job(statement=job_statement, status=job_status),
        outcome(statement=outcome_statement, status=outcome_status),
        persona(jobs=[JOB_ID]),
    ]
    findings = run(*entities)
    for f in findings:
        assert isinstance(f.level, Level)
        assert f.code
        assert f.message.strip()


def test_and_then_second_goal_is_compound() -> None:
    findings = lint(
        [
            job(
                statement="When a bill arrives, I want to check the charge and then "
                "dispute it, so I can pay the right amount."
            )
        ],
        today=TODAY,
    )
    assert "compound-statement" in {f.code for f in findings}


def test_blank_owner_counts_as_no_owner() -> None:
    findings = lint([job(owner="   ")], today=TODAY)
    assert any(f.code == "no-owner" for f in findings)


def test_self_relation_is_reported_once() -> None:
    rel = StackRelation(id="stack.self", title="self", owner="o", parent="job.a", child="job.a")
    findings = lint([job(id="job.a", level="high_level"), rel], today=TODAY)
    codes = [f.code for f in findings if f.entity_id == "stack.self"]
    assert codes.count("stack-self") == 1
    assert "stack-cycle" not in codes


# --- contact reasons and panel metrics ---------------------------------------------------------


def test_a_reason_claimed_by_two_live_jobs_is_an_error_on_both() -> None:
    a = job(id="job.a", contact_reasons=["billing", "card"])
    b = job(id="job.b", contact_reasons=["billing"])
    found = of(run(a, b), "reason-mapped-twice")
    assert {f.entity_id for f in found} == {"job.a", "job.b"}
    assert all(f.level is Level.ERROR and f.field == "contact_reasons" for f in found)
    assert "'billing'" in found[0].message


def test_a_retired_job_does_not_hold_its_reasons() -> None:
    a = job(id="job.a", contact_reasons=["billing"])
    b = job(id="job.b", contact_reasons=["billing"], status="retired", successor="job.a")
    assert of(run(a, b), "reason-mapped-twice") == []


def test_panel_column_must_name_a_panel_metric() -> None:
    assert of(run(job(), metric(panel_column="repeat_rate")), "unknown-panel-column") == []
    found = one(run(job(), metric(panel_column="repeat_rat")), "unknown-panel-column")
    assert found.level is Level.ERROR and "repeat_rate" in found.message


def test_nul_characters_are_refused_in_any_text_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="NUL"):
        job(title="Pay\x00 a bill")
    with pytest.raises(ValidationError, match="NUL"):
        job(contact_reasons=["ok", "bad\x00"])


# --- example utterances and intents --------------------------------------------------------------


def test_examples_and_intents_are_fields_of_a_job() -> None:
    from jobgraph.domain.entities import Intent, from_data, to_data

    j = job(examples=["my card is late"], intents=[{"name": "card_arrival", "examples": ["x"]}])
    assert j.intents == [Intent(name="card_arrival", examples=["x"])]
    assert from_data(to_data(j)) == j
    assert [f for f in run(j) if "example" in f.code or "intent" in f.code] == []


def test_a_blank_example_is_an_error_where_it_is() -> None:
    found = run(job(examples=["fine", "   "], intents=[{"name": "a", "examples": ["ok", " "]}]))
    blank = of(found, "empty-example")
    assert {f.field for f in blank} == {"examples[1]", "intents[0].examples[1]"}
    assert all(f.level is Level.ERROR for f in blank)


def test_an_example_under_two_jobs_is_a_warning_on_both() -> None:
    a = job(id="job.a", examples=["Where is my card?"])
    b = job(id="job.b", intents=[{"name": "card_arrival", "examples": ["where is  my CARD?"]}])
    found = of(run(a, b), "example-duplicated")
    assert {(f.entity_id, f.field) for f in found} == {
        ("job.a", "examples[0]"),
        ("job.b", "intents[0].examples[0]"),
    }
    assert all(f.level is Level.WARNING for f in found)
    assert "job.b/card_arrival" in next(f for f in found if f.entity_id == "job.a").message


def test_an_example_repeated_in_one_list_or_on_a_retired_job_is_not_a_conflict() -> None:
    a = job(id="job.a", examples=["where is my card", "Where is my card"])
    b = job(id="job.b", examples=["where is my card"], status="retired", successor="job.a")
    assert of(run(a, b), "example-duplicated") == []


def test_an_intent_name_belongs_to_one_job() -> None:
    twice = job(intents=[{"name": "a", "examples": ["x"]}, {"name": "a", "examples": ["y"]}])
    f = one(run(twice), "intent-named-twice")
    assert f.level is Level.ERROR and f.field == "intents[1].name"
    a = job(id="job.a", intents=[{"name": "refund", "examples": ["x"]}])
    b = job(id="job.b", intents=[{"name": "refund", "examples": ["y"]}])
    found = of(run(a, b), "intent-named-twice")
    assert {f.entity_id for f in found} == {"job.a", "job.b"}
    assert "job.b" in next(f for f in found if f.entity_id == "job.a").message


def test_an_intent_without_examples_is_a_warning() -> None:
    f = one(run(job(intents=[{"name": "refund"}])), "intent-without-examples")
    assert f.level is Level.WARNING and f.field == "intents[0]"


def test_an_empty_intent_name_or_example_string_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        job(intents=[{"name": "", "examples": ["x"]}])
    with pytest.raises(ValidationError):
        job(examples=[""])
