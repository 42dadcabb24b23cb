"""Examples in the knowledge base: training from the jobs' examples and intents, evaluating at
both levels, and promoting a discovered cluster to a draft job. Lexical only: no torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.text.conftest import JOBS, OPENERS, synthetic, write_csv
from typer.testing import CliRunner

from jobgraph.cli.app import app as cli
from jobgraph.domain.entities import Job
from jobgraph.errors import UserError
from jobgraph.service import Workspace
from jobgraph.text import Method, TrainSettings, examples_from_jobs, train
from jobgraph.text.data import TextDataError
from jobgraph.text.evaluate import cross_validate

STATEMENT = "When {c}, I want to {p}, so I can get on with my day."


def phrases(label: str) -> list[str]:
    return [f"{o}{p}" for p in JOBS[label][1] for o in OPENERS[:3]]


def kb_jobs() -> list[dict[str, Any]]:
    """Two jobs with intents (cards, payments) and one with job-level examples (security)."""
    return [
        {
            "id": "job.manage-my-card",
            "title": "Manage my card",
            "statement": STATEMENT.format(c="my card is late or lost", p="get a working card"),
            "intents": [
                {"name": "card_arrival", "examples": phrases("card_arrival")},
                {"name": "lost_card", "examples": phrases("lost_card")},
            ],
        },
        {
            "id": "job.get-my-money-back",
            "title": "Get my money back",
            "statement": STATEMENT.format(c="a purchase went wrong", p="get my money back"),
            "intents": [{"name": "refund_status", "examples": phrases("refund_status")}],
        },
        {
            "id": "job.keep-my-account-safe",
            "title": "Keep my account safe",
            "statement": STATEMENT.format(c="I worry about my pin", p="secure my account"),
            "examples": phrases("change_pin"),
        },
    ]


def test_examples_from_jobs_gives_a_two_level_taxonomy() -> None:
    jobs = [Job(**j) for j in kb_jobs()]
    retired = Job(
        id="job.old", title="Old", statement="x", status="retired", examples=["ignore me"]
    )
    ex = examples_from_jobs([*jobs, retired])
    assert set(ex.classes) == {
        "card_arrival", "lost_card", "refund_status", "job.keep-my-account-safe"
    }  # fmt: skip
    assert ex.parent_of()["lost_card"] == "job.manage-my-card"
    assert ex.parent_of()["job.keep-my-account-safe"] == "job.keep-my-account-safe"
    assert "ignore me" not in ex.texts


def test_examples_from_jobs_without_intents_is_one_level_and_empty_is_an_error() -> None:
    flat = [Job(**{**j, "intents": [], "examples": phrases("change_pin")}) for j in kb_jobs()[:1]]
    flat.append(Job(**kb_jobs()[2]))
    assert examples_from_jobs(flat).parents is None
    with pytest.raises(TextDataError, match="no job has example utterances"):
        examples_from_jobs([Job(id="job.a", title="A", statement="s")])


def test_predictions_carry_the_job_of_the_intent() -> None:
    model = train(
        examples_from_jobs([Job(**j) for j in kb_jobs()]), TrainSettings(method=Method.LEXICAL)
    )
    [p] = model.predict(["my card was stolen yesterday"])
    assert p.label == "lost_card" and p.parent == "job.manage-my-card"


def test_cross_validation_reports_intent_and_job_levels() -> None:
    ex = examples_from_jobs([Job(**j) for j in kb_jobs()])
    result = cross_validate(ex, TrainSettings(method=Method.LEXICAL), folds=3)
    assert result.n == len(ex)
    levels = result.as_dict()["levels"]
    assert set(levels) == {"intent", "job"}
    # the two card intents can be confused with each other but not with another job
    assert levels["job"]["accuracy"] >= levels["intent"]["accuracy"] >= 0.8
    flat = synthetic(per_label=6)
    assert set(cross_validate(flat, TrainSettings(method=Method.LEXICAL), 3).levels()) == {"label"}


def test_cross_validation_needs_three_examples_per_label() -> None:
    ex = synthetic(per_label=2)
    with pytest.raises(TextDataError, match="three examples or more"):
        cross_validate(ex, TrainSettings(method=Method.LEXICAL), 3)


# --- through the CLI, in a workspace ------------------------------------------------------------

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + (result.stderr or "")


@pytest.fixture
def kb(sqlite_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for data in kb_jobs():
        sqlite_ws.create(data)
    monkeypatch.chdir(sqlite_ws.root)
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    return sqlite_ws


def test_train_and_eval_from_the_workspace(kb: Workspace, tmp_path: Path) -> None:
    code, out = invoke(
        "classify", "train", "--from-workspace", "--method", "lexical",
        "--out", str(tmp_path / "m"), "--json",
    )  # fmt: skip
    assert code == 0, out
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["parents"]["refund_status"] == "job.get-my-money-back"
    assert manifest["trained"]["source"].startswith("workspace ")
    code, out = invoke(
        "classify", "eval", "--from-workspace", "--method", "lexical", "--folds", "3", "--json"
    )
    assert code == 0, out
    result = json.loads(out)
    assert set(result["levels"]) == {"intent", "job"} and result["n"] == 60
    code, out = invoke("classify", "eval", "--from-workspace", "--method", "lexical")
    assert code == 0 and "job (parent) accuracy" in out


def test_train_needs_exactly_one_source(kb: Workspace, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", synthetic())
    for args in ([], ["--from-workspace", "--data", str(data)]):
        with pytest.raises(UserError, match="--from-workspace"):
            invoke("classify", "train", *args, "--out", str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def utterances(tmp_path: Path) -> Path:
    lines = ['{"text": ' + json.dumps(f"{o}{p}") + "}"
             for label in ("refund_status", "change_pin", "card_arrival")
             for p in JOBS[label][1] for o in OPENERS[:4]]  # fmt: skip
    path = tmp_path / "utterances.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_promote_a_cluster_to_a_draft_job(kb: Workspace, tmp_path: Path) -> None:
    data = utterances(tmp_path)
    args = ["discover", "--data", str(data), "--representation", "lexical", "--k", "3"]
    code, out = invoke(*args, "--json")
    clusters = json.loads(out)["clusters"]
    target = next(c for c in clusters if "refund" in c["name"])
    code, out = invoke(
        *args, "--promote", str(target["id"]), "--job-id", "job.chase-a-refund",
        "--promote-examples", "4", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["promoted"]["id"] == "job.chase-a-refund"
    record = kb.get("job.chase-a-refund")
    job = record.entity
    assert isinstance(job, Job)
    assert job.status.value == "draft" and "discovered" in job.tags
    assert len(job.examples) == 4 and all("refund" in e for e in job.examples)
    assert job.examples[0] in target["central"]
    assert "refund" in job.title.lower()
    [revision] = kb.history("job.chase-a-refund")
    assert "discovery" in revision.reason
    # the placeholder statement is flagged until an analyst rewrites it
    codes = {f.code for f in kb.validate() if f.entity_id == "job.chase-a-refund"}
    assert "job-statement-form" in codes


def test_promote_refuses_a_taken_id_and_a_missing_cluster(kb: Workspace, tmp_path: Path) -> None:
    from jobgraph.errors import JobgraphError

    data = utterances(tmp_path)
    args = ["discover", "--data", str(data), "--representation", "lexical", "--k", "3"]
    with pytest.raises(JobgraphError, match=r"job\.manage-my-card"):
        invoke(*args, "--promote", "0", "--job-id", "job.manage-my-card")
    with pytest.raises(UserError, match="no cluster 7"):
        invoke(*args, "--promote", "7", "--job-id", "job.x")
    with pytest.raises(UserError, match="--promote"):
        invoke(*args, "--job-id", "job.x")
    assert len(kb.list()) == 3


def test_a_starter_workspace_trains_from_its_customer_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's tour: `classify train --from-workspace` works in a new contact-centre
    workspace, one label per customer job, each with its example utterances."""
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "cc", "--starter", "contact-centre")[0] == 0
    monkeypatch.chdir(tmp_path / "cc")
    ws = Workspace.open(tmp_path / "cc")
    customer = {r.id for r in ws.list("job") if "customer-job" in r.entity.tags}
    assert len(customer) == 9
    code, out = invoke(
        "classify", "train", "--from-workspace", "--method", "lexical",
        "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert code == 0, out
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert set(manifest["labels"]) == customer
    assert min(manifest["trained"]["per_label"].values()) >= 8
    code, out = invoke("classify", "predict", "--model", str(tmp_path / "m"), "--json",
                       "why is my bill higher this month than last")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)[0]["label"] == "job.understand-an-unexpected-charge"
