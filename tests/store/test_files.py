"""YAML export and import: determinism, line numbers, all-or-nothing, concurrent edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from tests.conftest import JOB, WorkspaceFactory

from jobgraph import ImportFailed, Job, Workspace
from jobgraph.domain.entities import from_data
from jobgraph.store import files


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_round_trip_is_byte_identical(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    source = make_workspace(starter="contact-centre", name="a")
    source.export(tmp_path / "one")
    target = make_workspace(name="b")
    report = target.import_folder(tmp_path / "one", author="alice")
    assert len(report.created) == len(source.list())
    target.export(tmp_path / "two")
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    # importing into the same workspace again changes nothing
    again = source.import_folder(tmp_path / "one", author="alice")
    assert (again.created, again.updated) == ([], [])
    source.export(tmp_path / "three")
    assert tree(tmp_path / "one") == tree(tmp_path / "three")


def test_export_layout_and_formatting(sqlite_ws: Workspace, tmp_path: Path) -> None:
    sqlite_ws.create({**JOB, "description": "line one\nline two"})
    sqlite_ws.export(tmp_path / "out")
    text = (tmp_path / "out" / "jobs" / f"{JOB['id']}.yaml").read_text()
    assert text.startswith(f"id: {JOB['id']}\ntitle: Resolve a billing anomaly\nowner: bob\n")
    assert "description: |-\n  line one\n  line two\n" in text
    assert (tmp_path / "out" / files.MANIFEST).is_file()


def write(folder: Path, rel: str, text: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


GOOD = """id: job.pay-a-bill
title: Pay a bill
owner: bob
statement: When a bill arrives, I want to pay it on time, so I can keep my credit score.
"""


def import_errors(ws: Workspace, folder: Path) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        ws.import_folder(folder, author="alice")
    return [f.render() for f in caught.value.findings if f.level.value == "error"]


def test_malformed_yaml_names_file_and_line(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path, "jobs/job.pay-a-bill.yaml", GOOD)
    write(tmp_path, "jobs/job.broken.yaml", "id: job.broken\ntitle: [unclosed\nowner: x\n")
    [error] = import_errors(sqlite_ws, tmp_path)
    assert error.startswith("jobs/job.broken.yaml:3: error [yaml-syntax]")
    assert sqlite_ws.list() == []  # the good file was not written either


def test_unknown_field_and_wrong_type_name_the_line(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path, "jobs/job.pay-a-bill.yaml", GOOD + "colour: blue\nimportance: high\n")
    errors = import_errors(sqlite_ws, tmp_path)
    assert any(
        e.startswith("jobs/job.pay-a-bill.yaml:5: ") and "unknown field 'colour'" in e
        for e in errors
    )
    assert any(
        e.startswith("jobs/job.pay-a-bill.yaml:6: ") and "importance" in e and "high" in e
        for e in errors
    )


def test_duplicate_ids_across_files(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path, "jobs/job.pay-a-bill.yaml", GOOD)
    write(tmp_path, "jobs/copy.yaml", GOOD)
    errors = import_errors(sqlite_ws, tmp_path)
    assert any("duplicate-id" in e and "also defined in" in e for e in errors)


def test_dangling_reference_in_file(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write(
        tmp_path,
        "outcomes/outcome.pay-on-time.yaml",
        "id: outcome.pay-on-time\ntitle: Pay on time\nowner: bob\njob: job.nowhere\n"
        "statement: Minimize the likelihood that a bill is paid late\n",
    )
    [error] = import_errors(sqlite_ws, tmp_path)
    assert error.startswith("outcomes/outcome.pay-on-time.yaml:4: ")
    assert "job.nowhere, which does not exist" in error


def test_wrong_encoding_and_empty_folder(sqlite_ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert any("holds no entity files" in e for e in import_errors(sqlite_ws, tmp_path / "empty"))
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin" / "job.x.yaml").write_bytes("id: job.x\ntitle: Caf\xe9\n".encode("latin-1"))
    assert any("is not UTF-8" in e for e in import_errors(sqlite_ws, tmp_path / "latin"))


@pytest.mark.parametrize("fail_on", ["INSERT INTO revisions", "INSERT INTO links", "UPDATE"])
def test_import_failing_halfway_writes_nothing(
    sqlite_ws: Workspace, tmp_path: Path, fail_on: str
) -> None:
    """The database fails in the middle of the write: the whole import is rolled back."""
    sqlite_ws.create(JOB)
    sqlite_ws.export(tmp_path)
    job_file = tmp_path / "jobs" / f"{JOB['id']}.yaml"
    job_file.write_text(job_file.read_text().replace("owner: bob", "owner: dana"))
    for i in range(5):
        write(tmp_path, f"jobs/job.j{i}.yaml", GOOD.replace("job.pay-a-bill", f"job.j{i}"))
    write(
        tmp_path,
        "outcomes/outcome.o.yaml",
        "id: outcome.o\ntitle: O\nowner: bob\njob: job.j1\n"
        "statement: Minimize the likelihood that a bill is paid late\n",
    )
    seen: list[str] = []

    def explode(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)
        if statement.startswith(fail_on):
            raise OSError("disk full")

    engine = sqlite_ws.kb.engine
    event.listen(engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(OSError, match="disk full"):
            sqlite_ws.import_folder(tmp_path, author="alice")
    finally:
        event.remove(engine, "before_cursor_execute", explode)
    assert any(s.startswith("INSERT INTO entities") for s in seen)  # it was halfway
    assert [r.id for r in sqlite_ws.list()] == [JOB["id"]]
    assert sqlite_ws.get(JOB["id"]).entity.owner == "bob"
    assert len(sqlite_ws.history(JOB["id"])) == 1
    assert sqlite_ws.links_to("job.j1") == []


def test_concurrent_edit_since_export_is_a_conflict(sqlite_ws: Workspace, tmp_path: Path) -> None:
    sqlite_ws.create(JOB)
    sqlite_ws.export(tmp_path / "kb")
    path = tmp_path / "kb" / "jobs" / f"{JOB['id']}.yaml"
    path.write_text(path.read_text().replace("Resolve a billing anomaly", "Mine"))
    sqlite_ws.update(JOB["id"], {"title": "Theirs"}, expected_version=1, author="carol")
    errors = import_errors(sqlite_ws, tmp_path / "kb")
    assert any("[conflict]" in e and "by carol" in e for e in errors)
    assert sqlite_ws.get(JOB["id"]).entity.title == "Theirs"
    report = sqlite_ws.import_folder(tmp_path / "kb", author="alice", force=True)
    assert report.updated == [JOB["id"]]
    assert sqlite_ws.get(JOB["id"]).entity.title == "Mine"


def test_edit_after_export_is_imported_as_a_new_revision(
    sqlite_ws: Workspace, tmp_path: Path
) -> None:
    sqlite_ws.create(JOB)
    sqlite_ws.export(tmp_path / "kb")
    path = tmp_path / "kb" / "jobs" / f"{JOB['id']}.yaml"
    path.write_text(path.read_text().replace("owner: bob", "owner: dana"))
    report = sqlite_ws.import_folder(tmp_path / "kb", author="alice", reason="new owner")
    assert report.updated == [JOB["id"]]
    last = sqlite_ws.history(JOB["id"])[-1]
    assert (last.version, last.action, last.reason) == (2, "import", "new owner")


def test_import_cannot_approve_without_permission(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path, "jobs/job.pay-a-bill.yaml", GOOD + "status: approved\n")
    with pytest.raises(
        ImportFailed, match="only a council member may create an entity as approved"
    ):
        sqlite_ws.import_folder(tmp_path, author="mallory")


# any printable or control text except NUL, which the domain refuses (PostgreSQL cannot store it)
text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=text,
    tags=st.lists(text, max_size=3),
    description=st.one_of(st.none(), text),
    importance=st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
)
def test_any_job_survives_yaml(
    title: str, tags: list[str], description: str | None, importance: float | None
) -> None:
    import yaml

    job = Job(
        id="job.x",
        title=title,
        statement=JOB["statement"],
        tags=tags,
        description=description,
        importance=importance,
    )
    dumped = files.entity_yaml(job)
    reloaded = from_data(yaml.safe_load(dumped))
    assert reloaded == job
    assert files.entity_yaml(reloaded) == dumped


@pytest.mark.parametrize(
    "tricky",
    [
        "Pay\x85bill",
        "a\u2028b",
        "tab\there",
        "yes",
        "null",
        "1.0",
        "2026-01-01",
        "trailing  \nspaces  ",
        "#not a comment",
        "- dash",
        "key: value",
    ],
)
def test_tricky_strings_round_trip(tricky: str) -> None:
    import yaml

    job = Job(id="job.x", title=tricky, statement=JOB["statement"])
    dumped = files.entity_yaml(job)
    assert from_data(yaml.safe_load(dumped)).title == tricky


def test_validate_folder_reports_what_import_would(sqlite_ws: Workspace, tmp_path: Path) -> None:
    sqlite_ws.create(JOB)
    sqlite_ws.export(tmp_path / "kb")
    path = tmp_path / "kb" / "jobs" / f"{JOB['id']}.yaml"
    path.write_text(path.read_text().replace("Resolve a billing anomaly", "Mine"))
    sqlite_ws.update(JOB["id"], {"title": "Theirs"}, expected_version=1, author="carol")
    codes = {f.code for f in sqlite_ws.check_folder(tmp_path / "kb")}
    assert "conflict" in codes
    assert "conflict" not in {f.code for f in sqlite_ws.check_folder(tmp_path / "kb", force=True)}
    assert sqlite_ws.get(JOB["id"]).entity.title == "Theirs"


def write_scenario_folder(folder: Path, step_field: str) -> None:
    """A job, a persona and a scenario whose second step has ``step_field`` on line 10 and a
    reference to a missing persona on line 11."""
    write(folder, "jobs/job.pay-a-bill.yaml", GOOD)
    write(
        folder,
        "personas/persona.p.yaml",
        "id: persona.p\ntitle: P\nowner: bob\njobs:\n  - job.pay-a-bill\ngoals:\n  - pay\n",
    )
    write(
        folder,
        "scenarios/scenario.s.yaml",
        "id: scenario.s\ntitle: S\nowner: bob\npersona: persona.p\njob: job.pay-a-bill\n"
        "circumstance: a bill arrives\nsteps:\n  - name: open the letter\n"
        f"  - name: call\n    {step_field}: phone\n    operational_persona: persona.nobody\n",
    )


def test_nested_problems_point_at_their_own_line(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write_scenario_folder(tmp_path, "chanel")
    errors = import_errors(sqlite_ws, tmp_path)
    assert any(e.startswith("scenarios/scenario.s.yaml:10: ") and "chanel" in e for e in errors)


def test_nested_reference_points_at_its_line(sqlite_ws: Workspace, tmp_path: Path) -> None:
    write_scenario_folder(tmp_path, "channel")
    [error] = import_errors(sqlite_ws, tmp_path)
    assert error.startswith("scenarios/scenario.s.yaml:11: ")
    assert "persona.nobody, which does not exist" in error
