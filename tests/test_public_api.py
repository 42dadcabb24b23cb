"""The public surface: one explicit ``__all__``, and docs that cover every command and rule."""

from __future__ import annotations

import re
from pathlib import Path

import jobgraph
from jobgraph.cli.reference import generate
from jobgraph.domain.entities import MODELS

ROOT = Path(__file__).resolve().parents[1]


def test_all_names_exist_and_are_sorted() -> None:
    for name in jobgraph.__all__:
        assert hasattr(jobgraph, name), name
    assert list(jobgraph.__all__) == sorted(jobgraph.__all__)


def test_domain_has_no_io_imports() -> None:
    forbidden = re.compile(
        r"^\s*(?:import|from)\s+(sqlalchemy|alembic|yaml|typer|rich|os|"
        r"pathlib|jobgraph\.(?:store|service|cli))\b",
        re.MULTILINE,
    )
    for path in (ROOT / "src" / "jobgraph" / "domain").glob("*.py"):
        assert not forbidden.search(path.read_text()), path.name


def test_cli_reference_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == generate(), "docs/cli.md is stale: run `make docs`"


def test_every_lint_code_is_documented() -> None:
    source = (ROOT / "src" / "jobgraph" / "domain" / "lint.py").read_text()
    source += (ROOT / "src" / "jobgraph" / "store" / "files.py").read_text()
    source += (ROOT / "src" / "jobgraph" / "service.py").read_text()
    # a finding code literal: Level.WARNING, "solution-word",
    codes = set(re.findall(r'Level\.(?:ERROR|WARNING),\s*"([a-z-]+)"', source))
    assert len(codes) > 20
    doc = (ROOT / "docs" / "linter.md").read_text(encoding="utf-8")
    missing = sorted(c for c in codes if f"`{c}`" not in doc)
    assert missing == []


def test_every_entity_field_is_documented() -> None:
    doc = (ROOT / "docs" / "files.md").read_text(encoding="utf-8")
    missing = [
        f"{kind.value}.{name}"
        for kind, model in MODELS.items()
        for name in model.model_fields
        if f"`{name}`" not in doc
    ]
    assert missing == []


def test_every_setting_is_documented() -> None:
    from jobgraph.config import GovernanceSection, Settings, WorkspaceSection

    doc = (ROOT / "docs" / "workspace.md").read_text(encoding="utf-8")
    names = [f"JOBGRAPH_{n.upper()}" for n in Settings.model_fields]
    names += list(WorkspaceSection.model_fields) + list(GovernanceSection.model_fields)
    assert [n for n in names if f"`{n}`" not in doc] == []


def test_python_api_doc_example_runs(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    doc = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp_path)
    mp.setenv("JOBGRAPH_USER", "alice")
    try:
        exec(compile(code, "python-api.md", "exec"), {})
    finally:
        mp.undo()
    assert (tmp_path / "kb" / "jobgraph-export.yaml").is_file()
