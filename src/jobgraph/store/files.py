"""YAML files: one file per entity, deterministic formatting, loading with file and line numbers.

Layout of an export folder::

    jobgraph-export.yaml      format version; per entity, the content hash at export time
    jobs/job.resolve-billing-anomaly.yaml
    outcomes/outcome.....yaml
    ...

The per-entity hashes let an import tell "you edited this file" from "someone else changed the
entity in the knowledge base since you exported it", so a file import never silently overwrites a
concurrent edit.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jobgraph.domain.entities import Entity, from_data, to_data
from jobgraph.domain.findings import Finding, Level
from jobgraph.domain.ids import Kind, parse_id

MANIFEST = "jobgraph-export.yaml"
FORMAT_VERSION = 1


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Characters YAML treats as line breaks or cannot show plainly (U+0085, U+2028, controls)
    # survive only in double quotes, where they are escaped.
    if not all(c.isprintable() or c == "\n" for c in value):
        style: str | None = '"'
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: keys in the given order, no line wrapping, block lists, UTF-8."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
        indent=2,
    )


def entity_yaml(entity: Entity) -> str:
    return dump_yaml(to_data(entity))


def content_hash(entity: Entity) -> str:
    payload = json.dumps(to_data(entity), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def relative_path(entity: Entity) -> str:
    return f"{entity.kind.plural}/{entity.id}.yaml"


def write_export(folder: Path, entities: Iterable[Entity]) -> int:
    """Write every entity and the manifest; replace earlier entity files. Returns the count."""
    folder.mkdir(parents=True, exist_ok=True)
    items = sorted(entities, key=lambda e: e.id)
    wanted = {relative_path(e) for e in items}
    for kind in Kind:
        kind_dir = folder / kind.plural
        if kind_dir.is_dir():
            for old in kind_dir.glob("*.yaml"):
                if f"{kind.plural}/{old.name}" not in wanted:
                    old.unlink()
    for entity in items:
        _atomic_write(folder / relative_path(entity), entity_yaml(entity))
    manifest = {
        "format": FORMAT_VERSION,
        "exported": {e.id: content_hash(e) for e in items},
    }
    _atomic_write(folder / MANIFEST, dump_yaml(manifest))
    return len(items)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass
class LoadedFile:
    path: str
    entity: Entity | None
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class LoadResult:
    """What a folder of YAML files holds: the entities, where each field is, and the problems."""

    entities: dict[str, Entity] = field(default_factory=dict)
    locations: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    base_hashes: dict[str, str] | None = None

    def locate(self, finding: Finding) -> Finding:
        """Attach file and line to a finding about an entity loaded from a file."""
        if finding.path or finding.entity_id not in self.locations:
            return finding
        path, lines = self.locations[finding.entity_id]
        return finding.located(path, line_of(lines, finding.field))


def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """The line of every key and list item: ``title``, ``steps[1]``, ``steps[1].channel``."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                key = f"{prefix}.{k.value}" if prefix else k.value
                out.setdefault(key, k.start_mark.line + 1)
                out.update({p: n for p, n in _key_lines(v, key).items() if p not in out})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            out[key] = item.start_mark.line + 1
            out.update(_key_lines(item, key))
    return out


def line_of(lines: dict[str, int], field: str | None) -> int:
    """The line of a field path, or of the nearest enclosing field, or of the id."""
    path = field or ""
    while path:
        if path in lines:
            return lines[path]
        # drop the last part: "steps[1].channel" -> "steps[1]" -> "steps"
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("id", 1)


def _duplicate_keys(node: yaml.Node, prefix: str = "") -> list[tuple[str, int]]:
    dups: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                key = f"{prefix}.{k.value}" if prefix else k.value
                if k.value in seen:
                    dups.append((key, k.start_mark.line + 1))
                seen.add(k.value)
                dups += _duplicate_keys(v, key)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            dups += _duplicate_keys(item, f"{prefix}[{i}]")
    return dups


def _pydantic_findings(
    exc: ValidationError, entity_id: str | None, path: str, lines: dict[str, int]
) -> list[Finding]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        top = loc[0] if loc else None
        # ("steps", 1, "channel") -> "steps[1].channel"
        field_path = (
            "".join(
                f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                for i, p in enumerate(err["loc"])
            )
            or None
        )
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {top!r}; check the spelling (see docs/files.md for the fields)"
        elif err["type"] == "missing":
            msg = f"required field {field_path!r} is missing"
        elif "input" in err and err["type"] not in ("value_error",):
            shown = json.dumps(err["input"], default=str, ensure_ascii=False)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            msg = f"{msg} (got {shown})"
        out.append(
            Finding(
                Level.ERROR,
                "invalid-field",
                msg,
                entity_id,
                field_path,
                path,
                line_of(lines, field_path),
            )
        )
    return out


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once (with libyaml when present), keeping the node tree for line numbers."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def load_file(path: Path, display: str) -> tuple[LoadedFile, list[Finding]]:
    """Parse one entity file; never raises for bad content, returns findings instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return LoadedFile(display, None), [
            Finding(
                Level.ERROR,
                "encoding",
                f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8",
                path=display,
                line=1,
            )
        ]
    try:
        node, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "malformed YAML"
        return LoadedFile(display, None), [
            Finding(
                Level.ERROR,
                "yaml-syntax",
                f"is not valid YAML: {what}; fix the indentation or quoting near this line",
                path=display,
                line=line,
            )
        ]
    except yaml.YAMLError as exc:
        return LoadedFile(display, None), [
            Finding(Level.ERROR, "yaml-syntax", f"is not valid YAML: {exc}", path=display, line=1)
        ]
    if not isinstance(data, dict) or node is None:
        return LoadedFile(display, None), [
            Finding(
                Level.ERROR,
                "not-a-mapping",
                "must hold one entity as a mapping of fields (id: ..., title: ...)",
                path=display,
                line=1,
            )
        ]
    lines = _key_lines(node)
    findings = [
        Finding(
            Level.ERROR,
            "duplicate-key",
            f"field {key!r} appears twice",
            data.get("id"),
            key,
            display,
            line,
        )
        for key, line in _duplicate_keys(node)
    ]
    raw_id = data.get("id")
    if not isinstance(raw_id, str):
        findings.append(
            Finding(
                Level.ERROR,
                "missing-id",
                "has no 'id'; add one such as job.resolve-billing-anomaly",
                None,
                "id",
                display,
                lines.get("id", 1),
            )
        )
        return LoadedFile(display, None, lines), findings
    try:
        kind, _ = parse_id(raw_id)
    except ValueError as exc:
        findings.append(
            Finding(Level.ERROR, "invalid-id", str(exc), None, "id", display, lines.get("id", 1))
        )
        return LoadedFile(display, None, lines), findings
    try:
        entity = from_data(data)
    except ValidationError as exc:
        findings.extend(_pydantic_findings(exc, raw_id, display, lines))
        return LoadedFile(display, None, lines), findings
    expected = f"{kind.plural}/{raw_id}.yaml"
    if not display.endswith(expected):
        findings.append(
            Finding(
                Level.WARNING,
                "file-name",
                f"holds {raw_id} but is not named {expected}; export will move it there",
                raw_id,
                "id",
                display,
                lines.get("id", 1),
            )
        )
    return LoadedFile(display, entity, lines), findings


def load_folder(folder: Path) -> LoadResult:
    """Load every ``*.yaml`` entity file under ``folder`` (recursively) and the manifest."""
    result = LoadResult()
    if not folder.is_dir():
        result.findings.append(
            Finding(
                Level.ERROR,
                "no-folder",
                "is not a folder; give the folder that `jobgraph export` wrote",
                path=str(folder),
            )
        )
        return result
    files = sorted(
        p
        for p in folder.rglob("*.yaml")
        if p.name != MANIFEST and not any(x.startswith(".") for x in p.relative_to(folder).parts)
    )
    if not files:
        result.findings.append(
            Finding(Level.ERROR, "empty-folder", "holds no entity files (*.yaml)", path=str(folder))
        )
    first_seen: dict[str, str] = {}
    for path in files:
        display = str(path.relative_to(folder))
        loaded, findings = load_file(path, display)
        result.findings.extend(findings)
        entity = loaded.entity
        if entity is None:
            continue
        if entity.id in first_seen:
            result.findings.append(
                Finding(
                    Level.ERROR,
                    "duplicate-id",
                    f"id {entity.id} is also defined in {first_seen[entity.id]}; "
                    "ids must be unique",
                    entity.id,
                    "id",
                    display,
                    loaded.lines.get("id", 1),
                )
            )
            continue
        first_seen[entity.id] = display
        result.entities[entity.id] = entity
        result.locations[entity.id] = (display, loaded.lines)
    manifest = folder / MANIFEST
    if manifest.is_file():
        result.base_hashes = _load_manifest(manifest, result.findings)
    return result


def _load_manifest(path: Path, findings: list[Finding]) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        findings.append(
            Finding(Level.ERROR, "manifest", f"cannot be read: {exc}", path=MANIFEST, line=1)
        )
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        findings.append(
            Finding(
                Level.ERROR,
                "manifest",
                f"is not a jobgraph export manifest of format {FORMAT_VERSION}",
                path=MANIFEST,
                line=1,
            )
        )
        return {}
    exported = data.get("exported") or {}
    if not isinstance(exported, dict):
        findings.append(
            Finding(Level.ERROR, "manifest", "'exported' must be a mapping", path=MANIFEST, line=1)
        )
        return {}
    return {str(k): str(v) for k, v in exported.items()}
