"""Full-text search stays in step with every write, ranks sensibly, and its migration runs on
both backends (PostgreSQL when JOBGRAPH_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from tests.conftest import JOB

from jobgraph.browse import page
from jobgraph.domain.ids import Kind
from jobgraph.service import Workspace
from jobgraph.store.repository import MIGRATIONS
from jobgraph.store.search import words

STATEMENT = "When I am about to pay, I want to check the amount, so I can avoid surprises."


def job(slug: str, title: str, **extra: str) -> dict[str, str]:
    return {"id": f"job.{slug}", "title": title, "owner": "bob", "statement": STATEMENT, **extra}


def found(ws: Workspace, text: str) -> list[str]:
    return [r.id for r in ws.search(text)]


def test_query_words_are_letter_and_digit_runs() -> None:
    assert words("Job.Pay-a-Bill  pay 100%_") == ["job", "pay", "a", "bill", "100"]
    assert words("%_ -- !") == []


def test_every_word_must_match_the_start_of_a_word_or_its_stem(ws: Workspace) -> None:
    ws.create(JOB, author="alice")
    ws.create(job("pay-a-bill", "Pay a bill"), author="alice")
    assert found(ws, "unexpected charge") == [JOB["id"]]
    assert found(ws, "UNEXPECTED charges") == [JOB["id"]]  # case and stem
    assert found(ws, "anomal") == [JOB["id"]]  # a prefix of a word
    assert found(ws, "billing anomaly") == [JOB["id"]]
    assert found(ws, "anomaly pay") == []  # every word must match
    assert found(ws, "100%_") == []
    assert found(ws, "%_") == []
    assert set(found(ws, "bill")) == {JOB["id"], "job.pay-a-bill"}


def test_title_matches_rank_first_then_live_before_retired(ws: Workspace) -> None:
    ws.create(job("check-amount", "Check the amount", circumstance="about a bill"), author="alice")
    ws.create(job("settle-a-bill", "Settle a bill"), author="alice")
    ws.create(job("pay-a-bill", "Pay a bill"), author="alice")
    assert found(ws, "pay a bill")[0] == "job.pay-a-bill"
    assert found(ws, "bill")[:2] == ["job.pay-a-bill", "job.settle-a-bill"]
    assert found(ws, "bill")[-1] == "job.check-amount"  # only in another field
    ws.retire("job.pay-a-bill", expected_version=1, author="alice", reason="gone")
    assert found(ws, "bill")[:2] == ["job.settle-a-bill", "job.pay-a-bill"]


def test_the_index_follows_updates_retirements_and_imports(ws: Workspace, tmp_path: Path) -> None:
    ws.create(job("pay-a-bill", "Pay a bill"), author="alice")
    assert found(ws, "invoice") == []
    ws.update("job.pay-a-bill", {"title": "Pay an invoice"}, expected_version=1)
    assert found(ws, "invoice") == ["job.pay-a-bill"]
    assert found(ws, "bill") == ["job.pay-a-bill"]  # the id still has it
    ws.update(
        "job.pay-a-bill", {"statement": STATEMENT.replace("amount", "total")}, expected_version=2
    )
    assert found(ws, "amount") == []
    assert found(ws, "total") == ["job.pay-a-bill"]
    ws.retire("job.pay-a-bill", expected_version=3, author="alice", reason="gone")
    assert [r.entity.status.value for r in ws.search("invoice")] == ["retired"]

    other = Workspace.init(tmp_path / "source", author="alice", settings=ws.settings)
    other.create(job("renew-a-contract", "Renew a contract"), author="alice")
    other.export(tmp_path / "export")
    other.close()
    ws.import_folder(tmp_path / "export", author="alice")
    assert found(ws, "contract renew") == ["job.renew-a-contract"]
    assert found(ws, "renewal") == ["job.renew-a-contract"]  # stems alike


def test_paging_a_search_counts_every_match(ws: Workspace) -> None:
    for i in range(7):
        ws.create(job(f"pay-bill-{i}", f"Pay bill {i}"), author="alice")
    ws.create(job("pay-fee", "Pay a fee"), author="alice")
    first = page(ws, text="pay bill", limit=3)
    assert first.count == 7 and len(first.records) == 3
    assert page(ws, text="pay bill", limit=3, offset=6).count == 7
    assert page(ws, text="pay bill", limit=3, offset=50).count == 7
    assert page(ws, text="pay", kind=Kind.JOB, limit=50).count == 8
    assert page(ws, text="fee", kind=Kind.OUTCOME).count == 0
    assert page(ws, text="%_").count == 0
    assert page(ws, text="  ").count == 8  # no words: no search, everything


def test_the_migration_indexes_existing_rows_and_downgrades(ws: Workspace) -> None:
    ws.create(job("pay-a-bill", "Pay a bill"), author="alice")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with ws.kb.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    names = inspect(ws.kb.engine)
    assert "entity_search" not in names.get_table_names()
    assert "search_vector" not in {c["name"] for c in names.get_columns("entities")}
    # a write while the index is gone: the upgrade must index it too
    ws.update("job.pay-a-bill", {"title": "Pay an invoice"}, expected_version=1)
    ws.kb.migrate()
    assert found(ws, "invoice") == ["job.pay-a-bill"]
    assert found(ws, "bill") == ["job.pay-a-bill"]
