"""The command line, driven in-process through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Run


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> Path:
    """A workspace with the starter kit; the current folder is inside it."""
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    monkeypatch.delenv("JOBGRAPH_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run("init", str(tmp_path / "cc"), "--starter", "contact-centre")
    assert code == 0, out
    monkeypatch.chdir(tmp_path / "cc")
    return tmp_path / "cc"


def test_init_reports_what_it_made(kit: Path) -> None:
    assert (kit / "jobgraph.toml").is_file()
    assert (kit / "jobgraph.db").is_file()
    assert (kit / "data").is_dir()
    assert 'council = ["alice"]' in (kit / "jobgraph.toml").read_text()


def test_validate_starter_kit_passes(kit: Path, run: Run) -> None:
    code, out, _ = run("validate")
    assert code == 0
    assert "0 error(s)" in out


def test_validate_json_and_exit_code_on_error(kit: Path, run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "outcomes").mkdir(parents=True)
    (bad / "outcomes" / "outcome.x.yaml").write_text(
        "id: outcome.x\ntitle: X\nowner: bob\njob: job.nowhere\n"
        "statement: Minimize the time it takes to pay a bill\n"
    )
    code, out, _ = run("validate", str(bad), "--json")
    assert code == 1
    findings = json.loads(out)
    [error] = [f for f in findings if f["level"] == "error"]
    assert (error["code"], error["path"], error["line"], error["field"]) == (
        "dangling-reference",
        "outcomes/outcome.x.yaml",
        4,
        "job",
    )


def test_list_show_search_history_json(kit: Path, run: Run) -> None:
    code, out, _ = run("list", "metric", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["count"] == 5
    assert {m["kind"] for m in listed["data"]} == {"metric"}

    code, out, _ = run("show", "job.resolve-billing-anomaly", "--json")
    shown = json.loads(out)
    assert shown["data"]["statement"].startswith("When I notice an unexpected charge")
    assert shown["version"] == 1
    assert any(link["field"] == "parent" for link in shown["linked_from"])

    code, out, _ = run("search", "repeat contact", "--json")
    assert code == 0
    assert json.loads(out)["data"][0]["id"] == "metric.repeat-contact-rate"

    code, out, _ = run("history", "job.resolve-billing-anomaly", "--json")
    [rev] = json.loads(out)
    assert (rev["version"], rev["author"], rev["action"]) == (1, "alice", "import")


def test_human_output_is_readable(kit: Path, run: Run) -> None:
    code, out, _ = run("show", "job.resolve-billing-anomaly")
    assert code == 0
    assert "statement" in out and "unexpected charge" in out
    code, out, _ = run("list", "persona")
    assert "persona.frontline-billing-agent" in out
    assert "4 entities" in out


def test_governance_round(kit: Path, run: Run) -> None:
    code, out, err = run("retire", "job.pay-a-bill", "--version", "1", "-m", "test")
    assert code == 0, err
    code, out, err = run("retire", "job.pay-a-bill", "--version", "1")
    assert code == 1
    assert "current version is 2" in err
    code, out, _ = run("diff", "job.pay-a-bill", "1", "2", "--json")
    changes = {c["path"]: c for c in json.loads(out)}
    assert changes["status"]["old"] == "approved"
    assert changes["status"]["new"] == "retired"


def test_errors_are_one_line_and_verbose_adds_traceback(kit: Path, run: Run) -> None:
    code, _, err = run("show", "job.nope")
    assert code == 1
    assert err.strip().startswith("error: no entity job.nope")
    assert "Traceback" not in err
    code, _out, err = run("--verbose", "show", "job.nope")
    assert code == 1
    assert "Traceback" in err


def test_missing_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    code, _, err = run("list")
    assert code == 1
    assert "no jobgraph workspace" in err and "jobgraph init" in err


def test_export_edit_import_cycle(kit: Path, run: Run) -> None:
    code, out, _ = run("export", "kb")
    assert code == 0
    path = kit / "kb" / "jobs" / "job.pay-a-bill.yaml"
    path.write_text(path.read_text().replace("title: Pay a bill", "title: Pay a bill on time"))
    code, out, err = run("import", "kb", "-m", "clearer title")
    assert code == 0, err
    assert "1 updated" in out
    broken = kit / "kb" / "jobs" / "job.improve-a-credit-score.yaml"
    broken.write_text(broken.read_text() + "  bad: [\n")
    code, out, err = run("import", "kb")
    assert code == 1
    assert "import refused, nothing was written" in err
    assert "jobs/job.improve-a-credit-score.yaml:" in err


def test_usage_error_exits_non_zero(kit: Path, run: Run) -> None:
    code, _, err = run("list", "--status")
    assert code == 2
    code, _, err = run("list", "widgets")
    assert code == 1
    assert "unknown kind 'widgets'" in err


def test_demo_builds_and_summarises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = run("demo", "demo")
    assert code == 0, err
    assert "Jobs, most important first" in out
    assert "Improve a credit score" in out
    assert "Repeat Contact Rate" in out
    assert "0 error(s)" in out
    assert "Top opportunities" in out
    assert (tmp_path / "demo" / "opportunity-landscape.svg").read_text().startswith("<svg")
    assert (tmp_path / "demo" / "data" / "synthetic-outcome-survey.csv").is_file()
    # a second run rebuilds the demo instead of failing
    code, out, err = run("demo", "demo")
    assert code == 0, err
    # but it never replaces a folder that is not a demo workspace
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = run("demo", "mine")
    assert code == 1
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
