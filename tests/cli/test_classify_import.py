"""`jobgraph interactions import --classifier`: contacts with text and no reason code are
classified at import, the job panel counts them under their predicted job, and a bad model or a
failure writes nothing. A small lexical model: no torch, runs in CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tests.cli.conftest import MAPPING, Run

from jobgraph.domain.entities import Job
from jobgraph.interactions import CLASSIFIED_DIR, CONTACTS_DIR, contacts, import_contacts
from jobgraph.service import Workspace
from jobgraph.text import Examples, Method, TrainSettings, examples_from_jobs, train

CARD = "job.get-a-working-card"
REFUND = "job.get-my-money-back"
BILL = "job.understand-my-bill"
STATEMENT = "When {c}, I want to {p}, so I can get on with my day."


# c1, c2: reason mapped by rule (text ignored); c3-c5 card, c6-c7 refund: classified;
# c8: gibberish, abstains; c9: no text, not classified
EXPORT = """Id,Created,Status,Customer,Disposition,Notes
c1,2026-10-01T09:00:00,Completed,k1,billing,why is my card bill so high
c2,2026-10-01T09:10:00,Completed,k2,billing,
c3,2026-10-02T09:00:00,Completed,k3,,my new card has still not arrived
c4,2026-10-02T10:00:00,Completed,k4,,I lost my card yesterday
c5,2026-11-03T10:00:00,Completed,k5,,where is my card it was not delivered
c6,2026-11-03T11:00:00,Completed,k6,,the refund for my order is missing
c7,2026-11-04T11:00:00,Completed,k7,,how long does a refund take
c8,2026-11-04T12:00:00,Completed,k8,,xyzzy plugh
c9,2026-11-05T12:00:00,Completed,k9,,
"""


def kb_jobs() -> list[dict[str, Any]]:
    return [
        {
            "id": CARD,
            "title": "Get a working card",
            "statement": STATEMENT.format(c="my card is late or lost", p="get a working card"),
            "intents": [
                {
                    "name": "card_arrival",
                    "examples": [
                        "my card has not arrived", "where is my new card",
                        "card still not delivered", "when will my card arrive",
                        "waiting for my card in the post",
                    ],
                },
                {
                    "name": "lost_card",
                    "examples": [
                        "i lost my card", "my card was stolen", "cannot find my card",
                        "block my lost card", "someone stole my wallet and card",
                    ],
                },
            ],
        },
        {
            "id": REFUND,
            "title": "Get my money back",
            "statement": STATEMENT.format(c="a purchase went wrong", p="get my money back"),
            "examples": [
                "where is my refund", "refund has not come through",
                "how long does a refund take", "the merchant refund is missing",
                "still no refund on my account",
            ],
        },
        {
            "id": BILL,
            "title": "Understand my bill",
            "statement": STATEMENT.format(c="my bill looks wrong", p="understand my bill"),
            "contact_reasons": ["billing"],
        },
    ]  # fmt: skip


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> Path:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    root = tmp_path / "ws"
    assert run("init", str(root))[0] == 0
    monkeypatch.chdir(root)
    with Workspace.open(root) as ws:
        for job in kb_jobs():
            ws.create(job)
    (tmp_path / "export.csv").write_text(EXPORT)
    (tmp_path / "map.toml").write_text(MAPPING)
    return root


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    examples = examples_from_jobs([Job(**j) for j in kb_jobs()])
    model = train(examples, TrainSettings(method=Method.LEXICAL, threshold=0.5))
    return model.save(tmp_path / "model")


def _import(run: Run, *extra: str) -> tuple[int, str, str]:
    return run(
        "interactions", "import", "../export.csv", "--mapping", "../map.toml", *extra, "--json"
    )


def test_import_classifies_contacts_with_text_and_no_reason(
    ws_dir: Path, model_dir: Path, run: Run
) -> None:
    code, out, err = _import(run, "--classifier", str(model_dir))
    assert code == 0, err
    done = json.loads(out)
    assert done["added"] == 9
    report = done["classified"]
    assert (report["classified"], report["mapped"], report["abstained"]) == (6, 5, 1)
    version = json.loads((model_dir / "model.json").read_text())["model_version"]
    assert report["model_version"] == version

    with Workspace.open(ws_dir) as ws:
        rows = {r["contact_id"]: r for r in contacts(ws).to_pylist()}
    assert rows["c3"]["predicted_label"] == "card_arrival"
    assert rows["c4"]["predicted_label"] == "lost_card"
    assert {rows[c]["predicted_job"] for c in ("c3", "c4", "c5")} == {CARD}
    assert {rows[c]["predicted_job"] for c in ("c6", "c7")} == {REFUND}
    assert all(rows[c]["model_version"] == version for c in ("c3", "c8"))
    assert all(0.5 <= rows[c]["confidence"] <= 1.0 for c in ("c3", "c4", "c5", "c6", "c7"))
    # abstained: confidence and version kept, no label and no job
    assert rows["c8"]["predicted_job"] is None and rows["c8"]["predicted_label"] is None
    assert rows["c8"]["confidence"] < 0.5
    # a reason code, or no text: not classified
    for c in ("c1", "c2", "c9"):
        assert rows[c]["confidence"] is None and rows[c]["model_version"] is None

    # the job panel uses the predicted job when the reason maps to none
    code, out, err = run("metrics", "compute", "--json")
    assert code == 0, err
    panel = {r["job"]: r["contacts"] for r in json.loads(out)}
    assert panel == {BILL: 2, CARD: 3, REFUND: 2, None: 2}

    # idempotent: nothing new, nothing classified twice
    code, out, err = _import(run, "--classifier", str(model_dir))
    again = json.loads(out)
    assert (again["added"], again["classified"]["classified"]) == (0, 0)
    stored = sum(
        pq.ParquetFile(f).metadata.num_rows
        for f in (ws_dir / CLASSIFIED_DIR).glob("month=*/part-*.parquet")
    )
    assert stored == 6


def test_reasons_credit_classified_contacts_to_their_predicted_job(
    ws_dir: Path, model_dir: Path, run: Run
) -> None:
    assert _import(run, "--classifier", str(model_dir))[0] == 0
    code, out, err = run("interactions", "reasons", "--json")
    assert code == 0, err
    rows = json.loads(out)
    volumes = {(r["reason"], r["job"], r["mapped_by"]): r["contacts"] for r in rows}
    assert volumes == {
        ("billing", BILL, "rule"): 2,
        (None, CARD, "classifier"): 3,
        (None, REFUND, "classifier"): 2,
        (None, None, None): 2,  # c8 abstained, c9 has no text
    }
    assert abs(sum(r["share"] for r in rows) - 1.0) < 1e-9
    code, out, _ = run("interactions", "reasons")
    assert "2 of 9 contacts" in out and "classifier" in out


def test_without_a_classifier_the_prediction_columns_are_empty(ws_dir: Path, run: Run) -> None:
    code, out, _ = _import(run)
    assert code == 0 and json.loads(out)["classified"] is None
    with Workspace.open(ws_dir) as ws:
        table = contacts(ws)
    assert table.column("predicted_job").null_count == table.num_rows == 9
    code, out, _err = run("metrics", "compute", "--json")
    assert {r["job"]: r["contacts"] for r in json.loads(out)} == {BILL: 2, None: 7}


def test_a_model_of_another_format_version_is_refused_and_nothing_written(
    ws_dir: Path, model_dir: Path, run: Run
) -> None:
    manifest = json.loads((model_dir / "model.json").read_text())
    manifest["format_version"] = 99
    (model_dir / "model.json").write_text(json.dumps(manifest))
    code, _, err = _import(run, "--classifier", str(model_dir))
    assert code == 1 and "format version 99" in err and "retrain" in err
    assert not (ws_dir / CONTACTS_DIR).exists() and not (ws_dir / CLASSIFIED_DIR).exists()
    code, _out, err = _import(run, "--classifier", str(ws_dir / "no-such-model"))
    assert code == 1 and "model.json" in err
    assert not (ws_dir / CONTACTS_DIR).exists()


def test_a_model_whose_labels_are_no_jobs_is_refused(
    ws_dir: Path, tmp_path: Path, run: Run
) -> None:
    rows = [(t, label) for label in ("alpha", "beta") for t in (f"{label} one", f"{label} two")]
    model = train(Examples.from_rows(rows), TrainSettings(method=Method.LEXICAL))
    model.save(tmp_path / "foreign")
    code, _out, err = _import(run, "--classifier", str(tmp_path / "foreign"))
    assert code == 1 and "--from-workspace" in err
    assert not (ws_dir / CONTACTS_DIR).exists()


def test_a_label_mapped_as_a_contact_reason_resolves_to_its_job(
    ws_dir: Path, tmp_path: Path, run: Run
) -> None:
    rows = [(t, "billing") for t in ("my bill is wrong", "bill too high", "charged twice")]
    rows += [(t, "cards") for t in ("my card is late", "lost my card", "card not delivered")]
    train(Examples.from_rows(rows), TrainSettings(method=Method.LEXICAL)).save(tmp_path / "m")
    code, out, err = _import(run, "--classifier", str(tmp_path / "m"))
    assert code == 0, err
    report = json.loads(out)["classified"]
    with Workspace.open(ws_dir) as ws:
        by_id = {r["contact_id"]: r for r in contacts(ws).to_pylist()}
    # "billing" maps to a job through contact_reasons; "cards" is no job: stored, unresolved
    assert report["unresolved"] >= 1
    assert all(
        r["predicted_job"] == (BILL if r["predicted_label"] == "billing" else None)
        for r in by_id.values()
    )


def test_a_failure_while_storing_predictions_leaves_nothing(
    ws_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobgraph.interactions as interactions

    def broken(*args: object) -> tuple[Path, ...]:
        raise OSError("disk full")

    monkeypatch.setattr(interactions, "_write_classified", broken)
    with Workspace.open(ws_dir) as ws, pytest.raises(OSError, match="disk full"):
        import_contacts(
            ws, tmp_path / "export.csv", mapping=tmp_path / "map.toml", classifier=model_dir
        )
    assert not list((ws_dir / CONTACTS_DIR).glob("month=*/part-*.parquet"))
    assert not list((ws_dir / "data" / "quarantine").glob("*.csv"))


def test_classification_is_batched_with_progress(
    ws_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    seen: list[tuple[str, int, int]] = []

    def stage(name: str, total: int) -> Any:
        def advance(n: int) -> None:
            seen.append((name, total, n))

        return advance

    with Workspace.open(ws_dir) as ws:
        done = import_contacts(
            ws,
            tmp_path / "export.csv",
            mapping=tmp_path / "map.toml",
            classifier=model_dir,
            stage=stage,
        )
    assert done.classified is not None and done.classified.classified == 6
    assert ("classify", 6, 6) in seen
