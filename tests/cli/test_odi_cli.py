"""`jobgraph odi`: scoring outside and inside a workspace, saving, trends, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Run


def survey(path: Path, outcomes: tuple[str, ...], n: int = 80) -> Path:
    lines = ["respondent_id,outcome_id,importance,satisfaction,region"]
    for i in range(n):
        for j, outcome in enumerate(outcomes):
            imp = 5 if (i + j) % 4 else 2
            sat = 4 if (i * (j + 1)) % 3 == 0 else 2
            lines.append(f"r{i},{outcome},{imp},{sat},{'north' if i % 2 else 'south'}")
    path.write_text("\n".join(lines) + "\n")
    return path


KEYS = {
    "outcome_id",
    "segment",
    "n",
    "importance",
    "satisfaction",
    "opportunity",
    "opportunity_ci_low",
    "opportunity_ci_high",
    "band",
    "overserved",
}


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    return tmp_path


def test_score_outside_a_workspace_json(outside: Path, run: Run) -> None:
    path = survey(outside / "s.csv", ("q1", "q2"))
    code, out, err = run("odi", "score", str(path), "--segment-by", "region", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 6
    assert all(set(r) >= KEYS for r in rows)
    assert {r["segment"] for r in rows} == {"all", "north", "south"}
    assert "only 40 respondents" in err


def test_save_needs_a_workspace(outside: Path, run: Run) -> None:
    path = survey(outside / "s.csv", ("q1",))
    code, _, err = run("odi", "score", str(path), "--save")
    assert code == 1
    assert "no jobgraph workspace" in err


def test_inside_a_workspace_ids_are_checked_saved_and_trended(
    outside: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    assert run("init", "ws", "--starter", "contact-centre")[0] == 0
    monkeypatch.chdir(outside / "ws")
    bad = survey(outside / "bad.csv", ("outcome.billing-time-to-comprehensio", "q9"))
    code, _, err = run("odi", "score", str(bad), "--save")
    assert code == 1
    assert "did you mean outcome.billing-time-to-comprehension" in err
    assert "'q9' is not an outcome id" in err

    good = survey(
        outside / "w1.csv",
        ("outcome.billing-time-to-comprehension", "outcome.billing-escalation-likelihood"),
    )
    code, out, err = run("odi", "score", str(good), "--save", "--observed-on", "2026-03-01")
    assert code == 0, err
    assert "Saved 2 observations" in out
    code, out, err = run(
        "odi",
        "score",
        str(good),
        "--save",
        "--observed-on",
        "2026-09-01",
        "--segment-by",
        "region",
    )
    assert code == 0, err
    code, out, _ = run("odi", "trend", "outcome.billing-time-to-comprehension", "--json")
    waves = json.loads(out)
    assert [w["observed_on"] for w in waves] == [
        "2026-03-01",
        "2026-09-01",
        "2026-09-01",
        "2026-09-01",
    ]
    assert {w["segment"] for w in waves} == {"all", "region=north", "region=south"}
    assert waves[0]["source"] == "survey w1.csv"
    assert waves[0]["n"] == 80


def test_bad_file_exits_non_zero_with_line_and_column(outside: Path, run: Run) -> None:
    path = outside / "bad.csv"
    path.write_text("respondent_id,outcome_id,importance,satisfaction\nr1,q1,9,1\n")
    code, _, err = run("odi", "score", str(path))
    assert code == 1
    assert "bad.csv:2: column 'importance': 9 is outside the scale 1-5" in err


def test_compare_command(outside: Path, run: Run) -> None:
    path = survey(outside / "s.csv", ("q1",), n=200)
    code, out, err = run(
        "odi",
        "compare",
        str(path),
        "--outcome",
        "q1",
        "--segment-by",
        "region",
        "north",
        "south",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["n_a"] == result["n_b"] == 100
    assert 0 < result["p_value"] <= 1


def test_chart_is_written(outside: Path, run: Run) -> None:
    path = survey(outside / "s.csv", ("q1", "q2"))
    code, _, err = run("odi", "score", str(path), "--chart", str(outside / "c.svg"))
    assert code == 0, err
    svg = (outside / "c.svg").read_text()
    assert svg.startswith("<svg")
    assert ">q1<" in svg and ">q2<" in svg
    code, _, err = run("odi", "score", str(path), "--chart", str(outside / "c.gif"))
    assert code == 1
    assert ".svg" in err


def test_segment_finds_planted_segments(outside: Path, run: Run) -> None:
    import random

    rnd = random.Random(0)
    lines = ["respondent_id,outcome_id,importance,satisfaction,channel"]
    for i in range(300):
        group = i % 3
        for j in range(12):
            underserved = j // 4 == group
            imp = rnd.choice([4, 5]) if underserved else rnd.choice([1, 2, 3])
            sat = rnd.choice([1, 2]) if underserved else rnd.choice([3, 4, 5])
            lines.append(f"r{i},q{j},{imp},{sat},{['phone', 'chat', 'email'][group]}")
    path = outside / "planted.csv"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(
        "odi", "segment", str(path), "--json", "--assignments", str(outside / "a.csv")
    )
    assert code == 0, err
    result = json.loads(out)
    assert (result["verdict"], result["chosen_k"]) == ("stable", 3)
    assert sorted(s["size"] for s in result["segments"]) == [100, 100, 100]
    tops = {frozenset(g["outcome_id"] for g in s["top_outcomes"][:4]) for s in result["segments"]}
    assert tops == {frozenset(f"q{j}" for j in range(g * 4, g * 4 + 4)) for g in range(3)}
    assert "assignments" not in result
    assert len((outside / "a.csv").read_text().splitlines()) == 301
