"""Edit forms: which inputs each kind of entity gets, its values as form text, and the form's
text back as the changes ``Workspace.update`` takes.

The inputs come from the entity models themselves, so a new field gets an input without
touching the templates. Lists of text are one item per line, ``demographics`` is ``key: value``
per line, and nested structures (a scenario's steps, an evidence's forces) are YAML.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from jobgraph.domain.entities import Entity, model_for, to_data
from jobgraph.domain.ids import Kind
from jobgraph.errors import UserError

Widget = Literal[
    "text", "textarea", "lines", "pairs", "yaml", "select", "checkbox", "number", "date"
]

# fields set by the review workflow or by retiring/merging, never by the edit form
NOT_EDITED = frozenset({"id", "status", "successor"})
LONG_TEXT = frozenset(
    {"statement", "description", "summary", "circumstance", "quote", "target_note", "measures"}
)
REQUIRED_TEXT = frozenset({"title", "statement", "circumstance", "source", "summary", "measures"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    widget: Widget
    help: str = ""
    choices: tuple[str, ...] = ()
    required: bool = False
    step: str = "any"


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _widget(name: str, annotation: Any) -> tuple[Widget, tuple[str, ...]]:
    base = _strip_optional(annotation)
    origin = typing.get_origin(base)
    if isinstance(base, type) and issubclass(base, Enum):
        return "select", tuple(str(m.value) for m in base)
    if base is bool:
        return "checkbox", ()
    if base in (int, float):
        return "number", ()
    if base is date:
        return "date", ()
    if origin is list:
        (item,) = typing.get_args(base)
        item = _strip_optional(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "yaml", ()
        return "lines", ()
    if origin is dict:
        return "pairs", ()
    if isinstance(base, type) and issubclass(base, BaseModel):
        return "yaml", ()
    return ("textarea" if name in LONG_TEXT else "text"), ()


_HELP: dict[Widget, str] = {
    "lines": "One per line.",
    "pairs": "One 'key: value' per line.",
    "yaml": "YAML, as in an exported file.",
}


# fields every kind has: shown after the kind's own fields (the title stays first)
COMMON = ("owner", "review_due", "tags", "description")


def field_specs(kind: Kind) -> list[FieldSpec]:
    """The inputs of the edit form for ``kind``: the title, the kind's own fields in the
    model's order, then the fields every entity has."""
    fields = model_for(kind).model_fields
    order = ["title", *(n for n in fields if n not in COMMON and n != "title"), *COMMON]
    specs = []
    for name in order:
        info = fields[name]
        if name in NOT_EDITED:
            continue
        widget, choices = _widget(name, info.annotation)
        base = _strip_optional(info.annotation)
        specs.append(
            FieldSpec(
                name=name,
                label=name.replace("_", " ").capitalize(),
                widget=widget,
                help=" ".join(p for p in (info.description or "", _HELP.get(widget, "")) if p),
                choices=choices,
                required=name in REQUIRED_TEXT and info.is_required(),
                step="1" if base is int else "any",
            )
        )
    return specs


def form_values(entity: Entity) -> dict[str, str]:
    """The entity's fields as the text the form shows."""
    data = to_data(entity)
    return {spec.name: _as_text(spec, data.get(spec.name)) for spec in field_specs(entity.kind)}


def default_values(kind: Kind) -> dict[str, str]:
    """The form's text for a new entity of ``kind``: each field's default from the model."""
    fields = model_for(kind).model_fields
    values = {}
    for spec in field_specs(kind):
        info = fields[spec.name]
        value = info.get_default(call_default_factory=True) if not info.is_required() else None
        if value == [] or value == {}:
            value = None
        values[spec.name] = _as_text(spec, value.value if isinstance(value, Enum) else value)
    return values


def _as_text(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    match spec.widget:
        case "lines":
            return "\n".join(str(v) for v in value)
        case "pairs":
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        case "yaml":
            dumped: str = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
            return dumped
        case "checkbox":
            return "on" if value else ""
        case "number":
            return f"{value:g}" if isinstance(value, float) else str(value)
        case _:
            return str(value)


def parse_form(kind: Kind, form: dict[str, str]) -> dict[str, Any]:
    """The changes the submitted form asks for: every field of the form (an empty field
    removes the value). Raises UserError naming each field it cannot read."""
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for spec in field_specs(kind):
        raw = form.get(spec.name, "")
        try:
            changes[spec.name] = _parse(spec, raw)
        except ValueError as exc:
            problems.append(f"{spec.label}: {exc}")
    if problems:
        raise UserError("the form has values that cannot be read: " + "; ".join(problems))
    return changes


def _parse(spec: FieldSpec, raw: str) -> Any:
    text = raw.replace("\r\n", "\n")
    match spec.widget:
        case "checkbox":
            return bool(text)
        case "lines":
            return [line.strip() for line in text.split("\n") if line.strip()] or None
        case "pairs":
            pairs: dict[str, str] = {}
            for line in (ln for ln in text.split("\n") if ln.strip()):
                key, sep, value = line.partition(":")
                if not sep or not key.strip():
                    raise ValueError(f"{line.strip()[:60]!r} is not 'key: value'")
                pairs[key.strip()] = value.strip()
            return pairs or None
        case "yaml":
            if not text.strip():
                return None
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                raise ValueError(f"not valid YAML{where}") from None
        case "number":
            if not text.strip():
                return None
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{text.strip()[:30]!r} is not a number") from None
            if spec.step == "1":
                if not number.is_integer():
                    raise ValueError(f"{text.strip()[:30]!r} is not a whole number")
                return int(number)
            return number
        case "date":
            if not text.strip():
                return None
            try:
                return date.fromisoformat(text.strip()).isoformat()
            except ValueError:
                raise ValueError(f"{text.strip()[:30]!r} is not a date (YYYY-MM-DD)") from None
        case _:
            return text.strip() or None
