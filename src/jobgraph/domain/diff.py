"""Field-level differences between two snapshots of an entity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field: its path (``steps[1].channel``), the old and the new value."""

    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def diff_data(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every field that differs, in a stable order (old's keys first, then new ones)."""
    changes: list[FieldChange] = []
    _walk("", old, new, changes)
    return changes


def _walk(path: str, old: Any, new: Any, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [k for k in new if k not in old]
        for key in keys:
            _walk(f"{path}.{key}" if path else key, old.get(key), new.get(key), out)
    elif (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and any(isinstance(x, dict) for x in old + new)
    ):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(f"{path}[{i}]", a, b, out)
    elif old != new:
        out.append(FieldChange(path, old, new))
