"""Findings: what the linter and the file loader report, with level and location."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: its level, a short code, a message that says what to do, and where."""

    level: Level
    code: str
    message: str
    entity_id: str | None = None
    field: str | None = None
    path: str | None = None
    line: int | None = None

    @property
    def subject(self) -> str:
        """The entity and field the finding is about: ``job.pay-a-bill.statement``."""
        if self.entity_id:
            return self.entity_id + (f".{self.field}" if self.field else "")
        return self.field or ""

    @property
    def location(self) -> str:
        """Where to look: ``path:line`` for files, else the subject."""
        if self.path:
            return f"{self.path}:{self.line}" if self.line else self.path
        return self.subject or "-"

    def render(self) -> str:
        """``jobs/job.x.yaml:4: error [code] job.x.title: message`` (subject only for files)."""
        subject = f"{self.subject}: " if self.path and self.subject else ""
        return f"{self.location}: {self.level.value} [{self.code}] {subject}{self.message}"

    def located(self, path: str | None, line: int | None) -> Finding:
        return Finding(self.level, self.code, self.message, self.entity_id, self.field, path, line)

    def as_dict(self) -> dict[str, object]:
        return {
            "level": self.level.value,
            "code": self.code,
            "message": self.message,
            "entity_id": self.entity_id,
            "field": self.field,
            "path": self.path,
            "line": self.line,
        }


def has_errors(findings: list[Finding]) -> bool:
    return any(f.level is Level.ERROR for f in findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (
            f.path or "",
            f.line or 0,
            f.entity_id or "",
            f.level is not Level.ERROR,
            f.field or "",
            f.code,
        ),
    )
