"""jobgraph: a governed Jobs-to-be-Done and persona knowledge base for CX and contact centres.

The Python API is the product; the CLI (and later the web app, REST API and MCP server) are thin
shells over :class:`Workspace`.
"""

from jobgraph.demo import create_demo
from jobgraph.domain import (
    Coordination,
    Dimension,
    Direction,
    Entity,
    Evidence,
    EvidenceKind,
    Finding,
    Forces,
    Job,
    JobLevel,
    JourneyStep,
    Kind,
    Level,
    Metric,
    Outcome,
    Persona,
    PersonaKind,
    Requirement,
    Scenario,
    StackRelation,
    Status,
    lint,
)
from jobgraph.domain.diff import FieldChange
from jobgraph.domain.statements import parse_job_statement, parse_outcome_statement
from jobgraph.errors import (
    DuplicateId,
    EntityNotFound,
    ImportFailed,
    InternalError,
    InvalidEntity,
    InvalidTransition,
    JobgraphError,
    PermissionDenied,
    StaleVersion,
    UserError,
    ValidationFailed,
    WorkspaceExists,
    WorkspaceNotFound,
)
from jobgraph.service import ImportReport, Workspace
from jobgraph.store.repository import Record, Revision

__version__ = "0.1.0"

__all__ = [
    "Coordination",
    "Dimension",
    "Direction",
    "DuplicateId",
    "Entity",
    "EntityNotFound",
    "Evidence",
    "EvidenceKind",
    "FieldChange",
    "Finding",
    "Forces",
    "ImportFailed",
    "ImportReport",
    "InternalError",
    "InvalidEntity",
    "InvalidTransition",
    "Job",
    "JobLevel",
    "JobgraphError",
    "JourneyStep",
    "Kind",
    "Level",
    "Metric",
    "Outcome",
    "PermissionDenied",
    "Persona",
    "PersonaKind",
    "Record",
    "Requirement",
    "Revision",
    "Scenario",
    "StackRelation",
    "StaleVersion",
    "Status",
    "UserError",
    "ValidationFailed",
    "Workspace",
    "WorkspaceExists",
    "WorkspaceNotFound",
    "__version__",
    "create_demo",
    "lint",
    "parse_job_statement",
    "parse_outcome_statement",
]
