"""The canonical entities of the knowledge base, as immutable pydantic values.

Pure model: no I/O. Every entity has a stable id (``<kind>.<slug>``), a title, governance fields
(owner, status, review_due, tags) and kind-specific content. References to other entities are ids;
:func:`references` lists them so the linter and the store can check and index them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from jobgraph.domain.ids import Kind, parse_id


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"


class Dimension(StrEnum):
    FUNCTIONAL = "functional"
    EMOTIONAL = "emotional"
    SOCIAL = "social"


class JobLevel(StrEnum):
    HIGH_LEVEL = "high_level"
    RELATED = "related"
    PRIME = "prime"


class PersonaKind(StrEnum):
    CUSTOMER = "customer"
    OPERATIONAL = "operational"


class Requirement(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    INTERCHANGEABLE = "interchangeable"


class Coordination(StrEnum):
    CONCURRENT = "concurrent"
    SEQUENTIAL = "sequential"
    CO_EXECUTED = "co_executed"


class EvidenceKind(StrEnum):
    INTERVIEW = "interview"
    SWITCH_INTERVIEW = "switch_interview"
    OBSERVATION = "observation"
    DIARY_STUDY = "diary_study"
    SURVEY = "survey"
    ANALYTICS = "analytics"
    EXPERIMENT = "experiment"
    DESK_RESEARCH = "desk_research"


class Direction(StrEnum):
    """Which way a metric should move."""

    INCREASE = "increase"
    DECREASE = "decrease"
    MAINTAIN = "maintain"


def _check_id(value: str) -> str:
    parse_id(value)
    return value


EntityId = Annotated[str, AfterValidator(_check_id)]
Text = Annotated[str, Field(min_length=1)]
TextList = list[Annotated[str, Field(min_length=1)]]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, BaseModel):
        return any(_has_nul(v) for v in value.__dict__.values())
    return False


class Entity(BaseModel):
    """Fields every entity has."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    kind: ClassVar[Kind]

    id: EntityId
    title: Text
    owner: Annotated[str, Field(max_length=200)] | None = None
    status: Status = Status.DRAFT
    review_due: date | None = None
    tags: TextList = Field(default_factory=list)
    description: str | None = None
    successor: EntityId | None = Field(
        default=None, description="Set when the entity was retired or merged into another one."
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text, and no person types it: refuse it everywhere
        if _has_nul(value):
            raise ValueError("text may not contain the NUL character (U+0000); remove it")
        return value

    @model_validator(mode="after")
    def _id_matches_kind(self) -> Entity:
        kind, _ = parse_id(self.id)
        if kind is not self.kind:
            raise ValueError(
                f"id {self.id!r} has prefix {kind.value!r} but this is a {self.kind.value}; "
                f"ids of {self.kind.plural} start with {self.kind.value}."
            )
        return self


class Intent(BaseModel):
    """A finer contact reason under a job, with the utterances that express it (a two-level
    taxonomy: a contact is classified to an intent, and through it to its job)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    examples: TextList = Field(default_factory=list)


class Job(Entity):
    """The progress a person seeks in a circumstance, independent of any solution."""

    kind: ClassVar[Kind] = Kind.JOB

    statement: Text
    circumstance: str | None = None
    executor: str | None = None
    dimension: Dimension = Dimension.FUNCTIONAL
    level: JobLevel = JobLevel.PRIME
    importance: Annotated[float, Field(ge=0, le=10, strict=True)] | None = None
    underserved: StrictBool = False
    success_metrics: TextList = Field(default_factory=list)
    contact_reasons: TextList = Field(default_factory=list)
    examples: TextList = Field(
        default_factory=list,
        description="What customers say when they contact about this job: training examples.",
    )
    intents: list[Intent] = Field(default_factory=list)


class Outcome(Entity):
    """A desired outcome: how the job executor judges success (direction + metric + object)."""

    kind: ClassVar[Kind] = Kind.OUTCOME

    job: EntityId
    statement: Text
    priority: StrictBool = False


class Persona(Entity):
    """A research-based archetype: a customer, or an operational (internal) role."""

    kind: ClassVar[Kind] = Kind.PERSONA

    persona_kind: PersonaKind = PersonaKind.CUSTOMER
    summary: str | None = None
    jobs: list[EntityId] = Field(default_factory=list)
    goals: TextList = Field(default_factory=list)
    pain_points: TextList = Field(default_factory=list)
    behaviours: TextList = Field(default_factory=list)
    context_of_use: TextList = Field(default_factory=list)
    channel_preferences: TextList = Field(default_factory=list)
    accessibility_needs: TextList = Field(default_factory=list)
    tone_cues: TextList = Field(default_factory=list)
    decision_style: str | None = None
    demographics: dict[str, str] = Field(default_factory=dict)
    role: str | None = None
    systems_used: TextList = Field(default_factory=list)
    constraints: TextList = Field(default_factory=list)


class JourneyStep(BaseModel):
    """One step of a scenario's journey: where the job is pursued and who delivers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    channel: str | None = None
    front_stage: str | None = Field(default=None, description="What the customer is promised.")
    back_stage_role: str | None = None
    system: str | None = None
    operational_persona: EntityId | None = None


class Scenario(Entity):
    """A persona pursuing a job in a circumstance, with its constraints, emotions and journey."""

    kind: ClassVar[Kind] = Kind.SCENARIO

    persona: EntityId
    job: EntityId
    circumstance: Text
    constraints: TextList = Field(default_factory=list)
    emotions: TextList = Field(default_factory=list)
    steps: list[JourneyStep] = Field(default_factory=list)


class StackRelation(Entity):
    """A high-level job's related job, as in a job stack."""

    kind: ClassVar[Kind] = Kind.STACK

    parent: EntityId
    child: EntityId
    requirement: Requirement = Requirement.REQUIRED
    group: str | None = Field(
        default=None, description="Name of the group of interchangeable alternatives."
    )
    condition: str | None = Field(
        default=None, description="The circumstance under which the related job applies."
    )
    coordination: Coordination = Coordination.CONCURRENT
    order: Annotated[int, Field(ge=1, strict=True)] | None = None
    co_executors: TextList = Field(default_factory=list)
    success_outcome: str | None = None


class Forces(BaseModel):
    """The four forces of a switch interview."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    push: TextList = Field(default_factory=list)
    pull: TextList = Field(default_factory=list)
    anxiety: TextList = Field(default_factory=list)
    habit: TextList = Field(default_factory=list)


class Evidence(Entity):
    """Dated, sourced research that supports (or challenges) other entities."""

    kind: ClassVar[Kind] = Kind.EVIDENCE

    evidence_kind: EvidenceKind
    source: Text
    collected_on: date
    summary: Text
    quote: str | None = None
    supports: list[EntityId] = Field(default_factory=list)
    forces: Forces | None = None


class Metric(Entity):
    """An outcome made measurable: what is measured, its unit, direction and target."""

    kind: ClassVar[Kind] = Kind.METRIC

    measures: Text
    unit: Text
    direction: Direction
    target: Annotated[float, Field(strict=True)] | None = None
    target_note: str | None = None
    window_days: Annotated[int, Field(ge=1, strict=True)] | None = None
    panel_column: str | None = None
    jobs: list[EntityId] = Field(default_factory=list)
    outcomes: list[EntityId] = Field(default_factory=list)


MODELS: dict[Kind, type[Entity]] = {
    Kind.JOB: Job,
    Kind.OUTCOME: Outcome,
    Kind.PERSONA: Persona,
    Kind.SCENARIO: Scenario,
    Kind.STACK: StackRelation,
    Kind.EVIDENCE: Evidence,
    Kind.METRIC: Metric,
}

# Which reference fields point at which kinds (None: any kind).
REFERENCE_FIELDS: dict[Kind, dict[str, Kind | None]] = {
    Kind.JOB: {},
    Kind.OUTCOME: {"job": Kind.JOB},
    Kind.PERSONA: {"jobs": Kind.JOB},
    Kind.SCENARIO: {"persona": Kind.PERSONA, "job": Kind.JOB},
    Kind.STACK: {"parent": Kind.JOB, "child": Kind.JOB},
    Kind.EVIDENCE: {"supports": None},
    Kind.METRIC: {"jobs": Kind.JOB, "outcomes": Kind.OUTCOME},
}

RefKind = Literal["job", "outcome", "persona", "scenario", "stack", "evidence", "metric"]


def model_for(kind: Kind) -> type[Entity]:
    return MODELS[kind]


def references(entity: Entity) -> list[tuple[str, str, Kind | None]]:
    """Every (field, target id, expected kind) the entity refers to, successor included."""
    refs: list[tuple[str, str, Kind | None]] = []
    for field_name, expected in REFERENCE_FIELDS[entity.kind].items():
        value = getattr(entity, field_name)
        targets = value if isinstance(value, list) else [value]
        refs.extend((field_name, t, expected) for t in targets if t)
    if isinstance(entity, Scenario):
        for i, step in enumerate(entity.steps):
            if step.operational_persona:
                refs.append(
                    (f"steps[{i}].operational_persona", step.operational_persona, Kind.PERSONA)
                )
    if entity.successor:
        refs.append(("successor", entity.successor, entity.kind))
    return refs


def to_data(entity: Entity) -> dict[str, Any]:
    """The entity as plain JSON-able data, in field order, without empty or default-None values."""
    data = entity.model_dump(mode="json", exclude_defaults=False)
    return {k: v for k, v in data.items() if v not in (None, [], {})}


def from_data(data: dict[str, Any]) -> Entity:
    """Build an entity from plain data; the kind comes from the id prefix.

    Raises pydantic.ValidationError or ValueError (for a missing or malformed id).
    """
    raw_id = data.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("every entity needs an 'id' such as job.resolve-billing-anomaly")
    kind, _ = parse_id(raw_id)
    return model_for(kind).model_validate(data)
