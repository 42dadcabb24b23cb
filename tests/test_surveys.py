"""Saving ODI scores as observations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from tests.conftest import WorkspaceFactory

from jobgraph.analytics.odi import score
from jobgraph.analytics.survey import Survey
from jobgraph.errors import UserError
from jobgraph.surveys import save_scores, trend


def test_scores_are_saved_and_read_back_in_date_order(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(starter="contact-centre")
    oid = "outcome.billing-time-to-comprehension"
    frame = pd.DataFrame(
        {
            "respondent_id": [f"r{i}" for i in range(10)],
            "outcome_id": oid,
            "importance": [5] * 9 + [1],
            "satisfaction": [1] * 10,
        }
    )
    sv = Survey.from_frame(frame, source="wave.csv")
    assert save_scores(ws, sv, score(sv, n_boot=200), observed_on=date(2026, 9, 1)) == 1
    assert save_scores(ws, sv, score(sv, n_boot=200), observed_on=date(2026, 3, 1)) == 1
    waves = trend(ws, oid)
    assert [w.observed_on for w in waves] == [date(2026, 3, 1), date(2026, 9, 1)]
    assert waves[0].values["importance"] == pytest.approx(9.0)
    assert waves[0].values["opportunity"] == pytest.approx(18.0)
    assert waves[0].recorded_by == "alice"


def test_unknown_outcome_saves_nothing(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(starter="contact-centre")
    oid = "outcome.billing-time-to-comprehension"
    frame = pd.DataFrame(
        {
            "respondent_id": ["a", "a"],
            "outcome_id": [oid, "outcome.nope"],
            "importance": [5, 5],
            "satisfaction": [1, 1],
        }
    )
    sv = Survey.from_frame(frame, source="wave.csv")
    with pytest.raises(UserError, match=r"outcome\.nope is not in the knowledge base"):
        save_scores(ws, sv, score(sv, n_boot=200))
    assert trend(ws, oid) == []


def test_persona_column_must_name_personas(make_workspace: WorkspaceFactory) -> None:
    from jobgraph.surveys import check_outcomes

    ws = make_workspace(starter="contact-centre")
    oid = "outcome.billing-time-to-comprehension"
    frame = pd.DataFrame(
        {
            "respondent_id": ["a", "b"],
            "outcome_id": oid,
            "importance": [5, 5],
            "satisfaction": [1, 1],
        }
    )
    attrs = pd.DataFrame(
        {"persona": ["persona.reassurance-seeking-bill-payer", "persona.ghost"]},
        index=pd.Index(["a", "b"]),
    )
    sv = Survey.from_frame(frame, attrs, source="wave.csv", persona_column="persona")
    with pytest.raises(UserError, match=r"'persona\.ghost' is not a persona"):
        check_outcomes(ws, sv)


def test_saving_the_same_wave_twice_replaces_it(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(starter="contact-centre")
    oid = "outcome.billing-time-to-comprehension"
    frame = pd.DataFrame(
        {
            "respondent_id": ["a", "b"],
            "outcome_id": oid,
            "importance": [5, 5],
            "satisfaction": [1, 1],
        }
    )
    sv = Survey.from_frame(frame, source="wave.csv")
    save_scores(ws, sv, score(sv, n_boot=200), observed_on=date(2026, 3, 1))
    save_scores(ws, sv, score(sv, n_boot=200), observed_on=date(2026, 3, 1))
    assert len(trend(ws, oid)) == 1
