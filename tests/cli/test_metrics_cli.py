"""`jobgraph interactions reasons` and `jobgraph metrics compute` end to end."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from tests.cli.conftest import Run

from jobgraph.analytics.contacts import write_contacts
from jobgraph.analytics.job_metrics import job_metric_panel
from jobgraph.analytics.synthetic import generate_contacts
from jobgraph.interactions import CONTACTS_DIR
from jobgraph.metrics import JOB_PANEL
from jobgraph.service import Workspace
from jobgraph.store.repository import observations_of

TECHNION = Path("/work/shared/data/technion-callcenter/october-1999.tsv")
JOB_A = "job.resolve-billing-anomaly"
JOB_B = "job.keep-my-money-safe"


def _job(job_id: str, title: str, reasons: list[str]) -> dict[str, object]:
    return {
        "id": job_id,
        "title": title,
        "owner": "alice",
        "statement": "When a charge looks wrong, I want to get it explained, "
        "so I can trust my bill",
        "contact_reasons": reasons,
    }


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> Path:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "ws"
    assert run("init", str(root))[0] == 0
    monkeypatch.chdir(root)
    with Workspace.open(root) as ws:
        ws.create(_job(JOB_A, "Resolve a billing anomaly", ["unexpected-charge", "payment-failed"]))
        ws.create(_job(JOB_B, "Keep my money safe", ["card-lost"]))
        ws.create(
            {
                "id": "metric.repeat-contact-rate",
                "title": "Repeat contact rate",
                "owner": "alice",
                "measures": "Share of contacts followed by another for the same job within 7 days",
                "unit": "percent",
                "direction": "decrease",
                "target": 25.0,
                "panel_column": "repeat_rate",
                "jobs": [JOB_A],
            }
        )
        write_contacts(generate_contacts(4000, seed=11), ws.root / CONTACTS_DIR)
    return root


def _reference(root: Path) -> dict[str | None, dict[str, float]]:
    import pyarrow.dataset as ds

    df = ds.dataset(root / CONTACTS_DIR, format="parquet").to_table().to_pandas()
    mapping = {"unexpected-charge": JOB_A, "payment-failed": JOB_A, "card-lost": JOB_B}
    df["job_id"] = df["reason"].map(mapping)
    panel = job_metric_panel(df)
    return {
        (None if isinstance(r["job_id"], float) else r["job_id"]): r
        for r in panel.to_dict(orient="records")
    }


def test_panel_by_job_matches_the_reference_and_checks_targets(ws_dir: Path, run: Run) -> None:
    code, out, err = run("metrics", "compute", "--json")
    assert code == 0, err
    rows = {r["job"]: r for r in json.loads(out)}
    assert set(rows) == {JOB_A, JOB_B, None}
    expected = _reference(ws_dir)
    for job, row in rows.items():
        for column in (
            "contacts",
            "identified",
            "eligible",
            "censored",
            "repeat_rate",
            "fcr",
            "abandonment_rate",
            "wait_mean_s",
            "wait_p90_s",
            "handle_mean_s",
            "handle_p90_s",
            "handle_std_s",
            "episodes",
            "contacts_per_episode",
            "job_completion_rate",
        ):
            want = expected[job][column]
            if want != want:  # NaN: JSON says null
                assert row[column] is None, column
            else:
                assert row[column] == pytest.approx(want, rel=1e-9), column
    assert sum(r["contacts"] for r in rows.values()) == 4000

    code, out, err = run("metrics", "compute")
    assert code == 0, err
    assert "Against targets" in out and "metric.repeat-contact-rate" in out
    status = "on target" if rows[JOB_A]["repeat_rate"] * 100 <= 25 else "off target"
    assert status in out
    assert "censored" in out


def test_reasons_shows_unmapped_volume(ws_dir: Path, run: Run) -> None:
    code, out, err = run("interactions", "reasons", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert sum(r["contacts"] for r in rows) == 4000
    by_reason = {r["reason"]: r for r in rows}
    assert by_reason["card-lost"]["job"] == JOB_B
    assert by_reason["billing-question"]["job"] is None
    assert [r["contacts"] for r in rows] == sorted((r["contacts"] for r in rows), reverse=True)
    code, out, _ = run("interactions", "reasons")
    assert "have no job yet" in out and "unmapped" in out


def test_by_reason_works_without_mapping_and_groups_combine(ws_dir: Path, run: Run) -> None:
    code, out, err = run("metrics", "compute", "--by", "reason", "--by", "channel", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {"reason", "channel"} <= set(rows[0])
    assert sum(r["contacts"] for r in rows) == 4000
    assert any(r["repeated"] > 0 for r in rows)


def test_as_of_and_window_change_the_censoring(ws_dir: Path, run: Run) -> None:
    _, out, _ = run("metrics", "compute", "--json")
    full = {r["job"]: r for r in json.loads(out)}
    _, out, _ = run("metrics", "compute", "--json", "--window", "2w")
    wide = {r["job"]: r for r in json.loads(out)}
    assert wide[JOB_A]["censored"] > full[JOB_A]["censored"]
    _, out, _ = run("metrics", "compute", "--json", "--as-of", "2026-02-01")
    early = {r["job"]: r for r in json.loads(out)}
    assert early[JOB_A]["contacts"] < full[JOB_A]["contacts"]


def test_save_stores_dated_observations_on_jobs(ws_dir: Path, run: Run) -> None:
    code, out, err = run("metrics", "compute", "--save")
    assert code == 0, err
    assert "saved 2 observation(s)" in out
    with Workspace.open(ws_dir) as ws:
        saved = observations_of(ws.kb, JOB_A, JOB_PANEL)
    assert len(saved) == 1
    assert saved[0].segment == "all"
    assert 0 <= saved[0].values["repeat_rate"] <= 1
    # saving the same data again replaces, it does not add
    assert run("metrics", "compute", "--save")[0] == 0
    with Workspace.open(ws_dir) as ws:
        assert len(observations_of(ws.kb, JOB_A, JOB_PANEL)) == 1
    code, _, err = run("metrics", "compute", "--save", "--by", "reason")
    assert code == 1 and "group by job" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "colour"], "choose from job, reason"),
        (["--window", "a week"], "whole days or weeks"),
        (["--window", "0d"], "at least 1 day"),
        (["--as-of", "someday"], "give a date"),
        (["--engine", "excel"], "choose duckdb or spark"),
    ],
)
def test_bad_options_are_clear_errors(
    ws_dir: Path, run: Run, args: list[str], message: str
) -> None:
    code, _, err = run("metrics", "compute", *args)
    assert code == 1
    assert message in err


def test_no_contacts_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    assert run("init", str(tmp_path / "empty"))[0] == 0
    monkeypatch.chdir(tmp_path / "empty")
    code, _, err = run("metrics", "compute")
    assert code == 1 and "interactions import" in err


@pytest.mark.skipif(not TECHNION.exists(), reason=f"the Technion log is not here ({TECHNION})")
def test_technion_by_reason_through_the_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    assert run("init", str(tmp_path / "bank"))[0] == 0
    monkeypatch.chdir(tmp_path / "bank")
    code, _, err = run("interactions", "import", str(TECHNION), "--preset", "technion")
    assert code == 0, err
    code, out, err = run("metrics", "compute", "--by", "reason", "--json")
    assert code == 0, err
    rows = {r["reason"]: r for r in json.loads(out)}

    # independent count straight from the TSV: offered calls, abandons and, for the identified
    # callers of one reason, repeats within 7 days (PHANTOM calls are not contacts)
    calls: list[tuple[str, str, datetime, str]] = []
    with TECHNION.open(newline="") as f:
        for rec in csv.DictReader(f, delimiter="\t"):
            if rec["outcome"] not in ("AGENT", "HANG"):
                continue
            day = datetime.strptime(rec["date"].strip(), "%y%m%d")
            h, m, s = (int(x) for x in rec["vru_entry"].strip().split(":"))
            at = day + timedelta(hours=h, minutes=m, seconds=s)
            calls.append((rec["type"].strip(), rec["customer_id"].strip(), at, rec["outcome"]))
    for reason in {c[0] for c in calls}:
        mine = [c for c in calls if c[0] == reason]
        assert rows[reason]["contacts"] == len(mine)
        hang = sum(c[3] == "HANG" for c in mine)
        assert rows[reason]["abandonment_rate"] == pytest.approx(hang / len(mine))

    end = max(c[2] for c in calls)
    pe = sorted((c for c in calls if c[0] == "PE" and c[1] != "0"), key=lambda c: c[2])
    by_customer: dict[str, list[datetime]] = {}
    for c in pe:
        by_customer.setdefault(c[1], []).append(c[2])
    eligible = repeated = 0
    for times in by_customer.values():
        for i, t in enumerate(times):
            if t + timedelta(days=7) > end:
                continue
            eligible += 1
            if i + 1 < len(times) and times[i + 1] - t <= timedelta(days=7):
                repeated += 1
    assert rows["PE"]["eligible"] == eligible
    assert rows["PE"]["repeat_rate"] == pytest.approx(repeated / eligible)
    assert np.isclose(rows["PE"]["eligible"] + rows["PE"]["censored"], rows["PE"]["identified"])
