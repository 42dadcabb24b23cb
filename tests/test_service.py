"""The Workspace use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import JOB, WorkspaceFactory

from jobgraph import (
    DuplicateId,
    EntityNotFound,
    InvalidEntity,
    InvalidTransition,
    Job,
    PermissionDenied,
    StaleVersion,
    Status,
    UserError,
    ValidationFailed,
    Workspace,
    WorkspaceExists,
    WorkspaceNotFound,
)


def test_create_records_a_revision_with_author_time_reason(ws: Workspace) -> None:
    record = ws.create(JOB, author="bob", reason="from switch interviews")
    assert record.version == 1
    assert isinstance(record.entity, Job)
    [rev] = ws.history(JOB["id"])
    assert (rev.version, rev.author, rev.action, rev.reason) == (
        1,
        "bob",
        "create",
        "from switch interviews",
    )
    assert rev.snapshot["statement"] == JOB["statement"]
    assert rev.at.tzinfo is not None


def test_new_entities_get_a_review_date_from_the_cadence(ws: Workspace) -> None:
    record = ws.create(JOB)
    assert record.entity.review_due is not None
    assert (record.entity.review_due - ws.today()).days == 180


def test_id_is_made_from_kind_and_title_and_never_reused(ws: Workspace) -> None:
    a = ws.create(
        {
            "kind": "job",
            "title": "Pay a bill",
            "statement": "When a bill arrives, I want to pay it, so I can keep my score.",
        }
    )
    b = ws.create(
        {
            "kind": "job",
            "title": "Pay a bill",
            "statement": "When a bill arrives, I want to pay it, so I can keep my score.",
        }
    )
    assert (a.id, b.id) == ("job.pay-a-bill", "job.pay-a-bill-2")
    ws.retire(a.id, expected_version=1)
    with pytest.raises(DuplicateId, match="never reused"):
        ws.create({**JOB, "id": a.id, "title": "Other"})


def test_rename_keeps_the_id(ws: Workspace) -> None:
    ws.create(JOB)
    record = ws.update(JOB["id"], {"title": "Fix a surprise charge"}, expected_version=1)
    assert record.id == JOB["id"]
    assert ws.get(JOB["id"]).entity.title == "Fix a surprise charge"
    with pytest.raises(InvalidEntity, match="ids are stable"):
        ws.update(JOB["id"], {"id": "job.other"}, expected_version=2)


def test_stale_update_is_refused_and_nothing_is_overwritten(ws: Workspace) -> None:
    ws.create(JOB)
    ws.update(JOB["id"], {"title": "First editor"}, expected_version=1, author="bob")
    with pytest.raises(StaleVersion) as caught:
        ws.update(JOB["id"], {"title": "Second editor"}, expected_version=1, author="carol")
    assert caught.value.current == 2
    assert "current version is 2" in str(caught.value)
    assert ws.get(JOB["id"]).entity.title == "First editor"
    assert [r.version for r in ws.history(JOB["id"])] == [1, 2]


def test_parallel_writers_never_lose_an_update(ws: Workspace) -> None:
    """Many writers each read-modify-write a tag; retries on StaleVersion. All tags survive."""
    ws.create(JOB)

    def add_tag(i: int) -> int:
        attempts = 0
        while True:
            attempts += 1
            current = ws.get(JOB["id"])
            tags = [*current.entity.tags, f"t{i}"]
            try:
                ws.update(
                    JOB["id"], {"tags": tags}, expected_version=current.version, author=f"writer{i}"
                )
                return attempts
            except StaleVersion:
                continue

    with ThreadPoolExecutor(max_workers=8) as pool:
        attempts = list(pool.map(add_tag, range(24)))
    final = ws.get(JOB["id"])
    assert sorted(final.entity.tags) == sorted(f"t{i}" for i in range(24))
    assert final.version == 25
    assert len(ws.history(JOB["id"])) == 25
    assert sum(attempts) >= 24


def test_unknown_field_and_wrong_type_are_clear(ws: Workspace) -> None:
    with pytest.raises(InvalidEntity, match="colour: unknown field"):
        ws.create({**JOB, "colour": "red"})
    with pytest.raises(InvalidEntity, match="importance"):
        ws.create({**JOB, "importance": "very"})


def test_dangling_reference_is_refused(ws: Workspace) -> None:
    with pytest.raises(ValidationFailed, match=r"job\.missing, which does not exist"):
        ws.create(
            {
                "id": "outcome.x",
                "title": "x",
                "job": "job.missing",
                "statement": "Minimize the time it takes to pay a bill",
            }
        )
    assert ws.list("outcome") == []


def test_retire_and_merge_keep_the_id_resolvable(ws: Workspace) -> None:
    ws.create(JOB)
    ws.create({**JOB, "id": "job.fix-surprise-charge", "title": "Fix a surprise charge"})
    ws.merge("job.fix-surprise-charge", JOB["id"], expected_version=1, reason="duplicate")
    assert ws.get("job.fix-surprise-charge").id == JOB["id"]
    assert ws.get("job.fix-surprise-charge", follow=False).entity.status is Status.RETIRED
    assert ws.resolve("job.fix-surprise-charge") == JOB["id"]
    assert [r.action for r in ws.history("job.fix-surprise-charge")] == ["create", "merge"]


def test_retired_successor_chain_is_followed(ws: Workspace) -> None:
    for slug in ("a", "b", "c"):
        ws.create({**JOB, "id": f"job.{slug}", "title": slug})
    ws.merge("job.a", "job.b", expected_version=1)
    ws.merge("job.b", "job.c", expected_version=1)
    assert ws.get("job.a").id == "job.c"


def test_unknown_id_suggests_close_matches(ws: Workspace) -> None:
    ws.create(JOB)
    with pytest.raises(EntityNotFound, match=r"did you mean job\.resolve-billing-anomaly"):
        ws.get("job.resolve-biling-anomaly")


def test_approval_needs_owner_or_council(ws: Workspace) -> None:
    ws.create(JOB, author="carol")  # owner bob; council alice
    ws.submit(JOB["id"], expected_version=1, author="carol")
    with pytest.raises(PermissionDenied, match="only its owner \\(bob\\) or a council member"):
        ws.approve(JOB["id"], expected_version=2, author="carol")
    approved = ws.approve(JOB["id"], expected_version=2, author="bob")
    assert approved.entity.status is Status.APPROVED
    assert [r.action for r in ws.history(JOB["id"])] == ["create", "submit", "approve"]


def test_editing_an_approved_entity_sends_it_back_to_review_unless_owner(ws: Workspace) -> None:
    ws.create({**JOB, "status": "approved"}, author="alice")
    by_owner = ws.update(JOB["id"], {"circumstance": "a bill"}, expected_version=1, author="bob")
    assert by_owner.entity.status is Status.APPROVED
    by_other = ws.update(
        JOB["id"], {"circumstance": "a new bill"}, expected_version=2, author="carol"
    )
    assert by_other.entity.status is Status.IN_REVIEW


def test_reject_needs_a_reason_and_returns_to_draft(ws: Workspace) -> None:
    ws.create(JOB)
    ws.submit(JOB["id"], expected_version=1)
    with pytest.raises(InvalidTransition):
        ws.submit(JOB["id"], expected_version=2)
    record = ws.reject(JOB["id"], expected_version=2, reason="name the circumstance", author="bob")
    assert record.entity.status is Status.DRAFT
    assert ws.history(JOB["id"])[-1].reason == "name the circumstance"


def test_statement_errors_block_review_but_not_drafts(ws: Workspace) -> None:
    draft = ws.create({**JOB, "statement": "Pay bills"})
    assert draft.entity.status is Status.DRAFT
    with pytest.raises(ValidationFailed, match="job-statement-form"):
        ws.submit(JOB["id"], expected_version=1)


def test_diff_between_revisions(ws: Workspace) -> None:
    ws.create(JOB)
    ws.update(JOB["id"], {"title": "New title", "tags": ["billing"]}, expected_version=1)
    changes = {c.path: c for c in ws.diff(JOB["id"], 1, 2)}
    assert changes["title"].old == JOB["title"]
    assert changes["title"].new == "New title"
    assert changes["tags"].kind == "added"
    with pytest.raises(Exception, match="has no version 9"):
        ws.diff(JOB["id"], 1, 9)


def test_search_finds_words_in_any_field(ws: Workspace) -> None:
    ws.create(JOB)
    ws.create(
        {
            **JOB,
            "id": "job.pay-a-bill",
            "title": "Pay a bill",
            "statement": "When a bill arrives, I want to pay it, so I can keep my score.",
        }
    )
    assert [r.id for r in ws.search("unexpected charge")] == [JOB["id"]]
    assert ws.search("pay a bill")[0].id == "job.pay-a-bill"
    assert ws.search("100%_") == []


def test_starter_kit_validates_without_errors(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(starter="contact-centre")
    findings = ws.validate()
    errors = [f.render() for f in findings if f.level.value == "error"]
    assert errors == []
    counts = ws.summary()["entities"]
    assert counts["jobs"] >= 10
    assert counts["metrics"] == 5
    seed_jobs = [r for r in ws.list("job") if "isic-8220" in r.entity.tags]
    assert len(seed_jobs) == 10
    assert sum(r.entity.underserved for r in seed_jobs) == 8
    assert {r.entity.dimension.value for r in seed_jobs} == {"functional", "emotional", "social"}
    kinds = {r.entity.persona_kind.value for r in ws.list("persona")}  # type: ignore[attr-defined]
    assert kinds == {"customer", "operational"}


def test_init_refuses_an_existing_workspace(tmp_path: Path, settings: object) -> None:
    Workspace.init(tmp_path / "w", author="a").close()
    with pytest.raises(WorkspaceExists):
        Workspace.init(tmp_path / "w", author="a")


def test_open_without_a_workspace_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    with pytest.raises(WorkspaceNotFound, match="jobgraph init"):
        Workspace.open()
    with pytest.raises(WorkspaceNotFound, match="is not a jobgraph workspace"):
        Workspace.open(tmp_path / "nowhere")


def test_open_finds_the_workspace_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Workspace.init(tmp_path / "w", author="a").close()
    (tmp_path / "w" / "data" / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "w" / "data" / "deep")
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    with Workspace.open() as ws:
        assert ws.root == (tmp_path / "w").resolve()


def test_a_stack_relation_that_closes_a_cycle_is_refused(ws: Workspace) -> None:
    for slug in ("a", "b", "c"):
        ws.create({**JOB, "id": f"job.{slug}", "title": slug})
    ws.create({"id": "stack.a-b", "title": "a-b", "parent": "job.a", "child": "job.b"})
    ws.create({"id": "stack.b-c", "title": "b-c", "parent": "job.b", "child": "job.c"})
    with pytest.raises(ValidationFailed, match="stack-cycle"):
        ws.create({"id": "stack.c-a", "title": "c-a", "parent": "job.c", "child": "job.a"})
    assert [r.id for r in ws.list("stack")] == ["stack.a-b", "stack.b-c"]


def test_starter_kit_files_are_in_export_format() -> None:
    """The starter kit is kept in the same deterministic format that export writes."""
    import yaml

    from jobgraph.domain.entities import from_data
    from jobgraph.service import STARTERS
    from jobgraph.store.files import entity_yaml, relative_path

    root = STARTERS["contact-centre"]
    files = sorted(root.rglob("*.yaml"))
    assert len(files) > 50
    for path in files:
        entity = from_data(yaml.safe_load(path.read_text(encoding="utf-8")))
        assert str(path.relative_to(root)) == relative_path(entity)
        assert path.read_text(encoding="utf-8") == entity_yaml(entity), path.name


def test_nobody_can_take_over_an_entity_to_approve_it(ws: Workspace) -> None:
    ws.create(JOB, author="alice")  # owner bob
    with pytest.raises(PermissionDenied, match="hand it to another owner"):
        ws.update(
            JOB["id"],
            {"owner": "mallory", "status": "approved"},
            expected_version=1,
            author="mallory",
        )
    with pytest.raises(PermissionDenied, match="only a council member may create"):
        ws.create(
            {**JOB, "id": "job.mine", "owner": "mallory", "status": "approved"}, author="mallory"
        )
    assert ws.get(JOB["id"]).entity.status is Status.DRAFT


def test_only_owner_or_council_may_unapprove_or_touch_retired(ws: Workspace) -> None:
    ws.create({**JOB, "status": "approved"}, author="alice")
    with pytest.raises(PermissionDenied, match="only its owner or a council member may change"):
        ws.update(JOB["id"], {"status": "draft"}, expected_version=1, author="mallory")
    ws.retire(JOB["id"], expected_version=1, author="bob")
    with pytest.raises(PermissionDenied, match="is retired"):
        ws.update(JOB["id"], {"title": "graffiti"}, expected_version=2, author="mallory")


def test_stale_version_is_reported_before_anything_else(ws: Workspace) -> None:
    ws.create({**JOB, "status": "approved"}, author="alice")
    ws.update(JOB["id"], {"title": "v2"}, expected_version=1, author="bob")
    with pytest.raises(StaleVersion):
        ws.update(JOB["id"], {"status": "draft"}, expected_version=1, author="mallory")


def test_successors_never_loop_or_end_at_a_retired_entity(ws: Workspace) -> None:
    for slug in ("a", "b", "c"):
        ws.create({**JOB, "id": f"job.{slug}", "title": slug})
    ws.merge("job.a", "job.b", expected_version=1)
    with pytest.raises(UserError, match="cannot be its own successor"):
        ws.merge("job.b", "job.a", expected_version=1)
    ws.retire("job.c", expected_version=1)
    with pytest.raises(UserError, match="which is retired"):
        ws.merge("job.b", "job.c", expected_version=1)
    assert ws.get("job.a").id == "job.b"


def test_racing_creates_get_duplicate_id_not_an_internal_error(ws: Workspace) -> None:
    def create(i: int) -> str:
        try:
            ws.create({**JOB, "title": f"writer {i}"})
            return "created"
        except DuplicateId:
            return "duplicate"

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, range(6)))
    assert results.count("created") == 1
    assert results.count("duplicate") == 5


def test_opening_a_workspace_from_many_threads(ws: Workspace) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        roots = list(pool.map(lambda _: Workspace.open(ws.root, settings=ws.settings), range(6)))
    assert all(w.root == ws.root for w in roots)
    for w in roots:
        w.close()


def test_wrong_types_are_not_coerced(ws: Workspace) -> None:
    with pytest.raises(InvalidEntity, match="underserved"):
        ws.create({**JOB, "underserved": "no"})
    with pytest.raises(InvalidEntity, match="importance"):
        ws.create({**JOB, "importance": "8"})
    with pytest.raises(InvalidEntity, match="owner"):
        ws.create({**JOB, "owner": "x" * 201})
