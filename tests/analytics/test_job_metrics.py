from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobgraph.analytics.job_metrics import PANEL_COLUMNS, job_metric_panel
from jobgraph.errors import UserError

T0 = pd.Timestamp("2026-01-01 09:00", tz="UTC")
DAY = pd.Timedelta(days=1)
TECHNION = Path("/work/shared/data/technion-callcenter/october-1999.tsv")


def contact(
    cid: str,
    at: pd.Timedelta | pd.Timestamp,
    *,
    customer: str | None = "c1",
    job: str | None = "J",
    outcome: str = "served",
    channel: str = "phone",
    wait: float | None = None,
    handle: float | None = None,
) -> dict[str, Any]:
    return {
        "contact_id": cid,
        "customer_id": customer,
        "started_at": T0 + at if isinstance(at, pd.Timedelta) else at,
        "channel": channel,
        "outcome": outcome,
        "wait_seconds": wait,
        "handle_seconds": handle,
        "job_id": job,
    }


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    return df.astype(
        {
            "customer_id": "object",
            "job_id": "object",
            "wait_seconds": "float64",
            "handle_seconds": "float64",
        }
    )


def row(panel: pd.DataFrame, **keys: Any) -> pd.Series:
    mask = pd.Series(True, index=panel.index)
    for k, v in keys.items():
        mask &= panel[k].isna() if v is None else panel[k] == v
    assert mask.sum() == 1, panel
    return panel.loc[mask].iloc[0]


# --- repeat, censoring, FCR ------------------------------------------------------------------


def test_repeat_window_is_inclusive_at_exactly_w() -> None:
    df = frame(
        contact("a1", 0 * DAY, customer="a"),
        contact("a2", 7 * DAY, customer="a"),  # exactly W later: a1 repeated
        contact("b1", 0 * DAY, customer="b"),
        contact("b2", 7 * DAY + pd.Timedelta(microseconds=1), customer="b"),  # just past W
        contact("z", 30 * DAY, customer="z"),  # sets the data end far away
    )
    p = row(job_metric_panel(df), job_id="J")
    assert p["contacts"] == 5
    assert p["identified"] == 5
    # z is censored (its window passes the end); a1, a2, b1, b2 are eligible
    assert (p["eligible"], p["censored"]) == (4, 1)
    assert p["repeated"] == 1
    assert p["repeat_rate"] == pytest.approx(1 / 4)
    assert p["served_eligible"] == 4
    assert p["fcr"] == pytest.approx(3 / 4)


def test_next_contact_for_a_different_job_does_not_repeat() -> None:
    df = frame(
        contact("1", 0 * DAY, job="J"),
        contact("2", 1 * DAY, job="K"),
        contact("3", 2 * DAY, job="J"),
        contact("end", 20 * DAY, customer="x", job="K"),
    )
    p = job_metric_panel(df)
    j = row(p, job_id="J")
    assert (j["eligible"], j["repeated"]) == (2, 1)  # 1 -> 3 within W; 3 has no successor
    k = row(p, job_id="K")
    assert (k["eligible"], k["censored"], k["repeated"]) == (1, 1, 0)


def test_ties_on_started_at_are_broken_by_contact_id() -> None:
    df = frame(
        contact("b", 0 * DAY),
        contact("a", 0 * DAY),
        contact("end", 10 * DAY, customer="x"),
    )
    p = row(job_metric_panel(df), job_id="J")
    # order is a, b: a's next contact is b (gap 0, repeated), b has none
    assert p["repeated"] == 1
    assert p["eligible"] == 2


def test_censoring_at_the_data_end() -> None:
    df = frame(
        contact("1", 0 * DAY),
        contact("2", 3 * DAY, customer="d"),  # window ends at day 10 = data end: not censored
        contact("3", 3 * DAY + pd.Timedelta(seconds=1), customer="e"),  # passes day 10: censored
        contact("4", 10 * DAY, customer="f"),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert (p["eligible"], p["censored"]) == (2, 2)
    assert p["eligible"] + p["censored"] == p["identified"]


def test_as_of_sets_the_data_end_and_drops_later_contacts() -> None:
    df = frame(
        contact("1", 0 * DAY),
        contact("2", 5 * DAY),
        contact("3", 20 * DAY),
    )
    # without as_of: end = day 20; 1 and 2 eligible; 1 repeated (2 within W), 3 censored
    p = row(job_metric_panel(df), job_id="J")
    assert (p["contacts"], p["eligible"], p["censored"], p["repeated"]) == (3, 2, 1, 1)
    # as_of day 8: contact 3 is not yet in the data; 1 (window ends day 7) eligible, 2 censored
    p = row(job_metric_panel(df, as_of=T0 + 8 * DAY), job_id="J")
    assert (p["contacts"], p["eligible"], p["censored"], p["repeated"]) == (2, 1, 1, 1)
    # a naive as_of is read as UTC
    naive = (T0 + 8 * DAY).tz_convert(None)
    assert job_metric_panel(df, as_of=naive).equals(job_metric_panel(df, as_of=T0 + 8 * DAY))
    # a contact starting exactly at as_of is kept
    p = row(job_metric_panel(df, as_of=T0 + 20 * DAY), job_id="J")
    assert p["contacts"] == 3


def test_window_days_changes_the_repeat_window() -> None:
    df = frame(contact("1", 0 * DAY), contact("2", 3 * DAY), contact("e", 30 * DAY, customer="x"))
    assert row(job_metric_panel(df, window_days=3), job_id="J")["repeated"] == 1
    assert row(job_metric_panel(df, window_days=2), job_id="J")["repeated"] == 0


def test_unidentified_customers_count_only_as_contacts() -> None:
    df = frame(
        contact("1", 0 * DAY, customer=None),
        contact("2", 1 * DAY, customer=None),
        contact("3", 2 * DAY),
        contact("e", 30 * DAY, customer="x"),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert p["contacts"] == 4
    assert p["identified"] == 2
    assert (p["eligible"], p["censored"], p["repeated"]) == (1, 1, 0)
    # each unidentified contact is an episode of its own
    assert p["episodes"] == 4


def test_unmapped_contacts_form_a_null_group_outside_repeat_and_fcr() -> None:
    df = frame(
        contact("1", 0 * DAY, job=None),
        contact("2", 1 * DAY, job=None),
        contact("3", 0 * DAY),
        contact("e", 30 * DAY, customer="x"),
    )
    p = job_metric_panel(df)
    u = row(p, job_id=None)
    assert (u["contacts"], u["identified"], u["eligible"], u["censored"]) == (2, 2, 0, 0)
    assert math.isnan(u["repeat_rate"])
    assert math.isnan(u["fcr"])
    assert u["episodes"] == 2
    j = row(p, job_id="J")
    assert (j["contacts"], j["eligible"], j["repeated"]) == (2, 1, 0)


def test_fcr_counts_only_served_contacts() -> None:
    df = frame(
        contact("1", 0 * DAY, outcome="abandoned"),
        contact("2", 1 * DAY, outcome="served"),
        contact("3", 2 * DAY, outcome="served"),
        contact("4", 20 * DAY, customer="x"),
    )
    p = row(job_metric_panel(df), job_id="J")
    # eligible 1, 2, 3; repeated 1, 2; served eligible 2, 3 of which 2 repeated
    assert (p["eligible"], p["repeated"], p["served_eligible"], p["served_repeated"]) == (
        3,
        2,
        2,
        1,
    )
    assert p["fcr"] == pytest.approx(0.5)
    assert p["repeat_rate"] == pytest.approx(2 / 3)


def test_empty_denominators_give_nan_not_zero() -> None:
    df = frame(contact("1", 0 * DAY, customer=None, outcome="abandoned"))
    p = row(job_metric_panel(df), job_id="J")
    for name in ("repeat_rate", "fcr", "wait_mean_s", "wait_p50_s", "wait_p90_s", "handle_mean_s"):
        assert math.isnan(p[name]), name
    assert math.isnan(p["handle_std_s"])
    assert p["abandonment_rate"] == 1.0
    # every contact a short abandon: abandonment has no denominator
    df = frame(contact("1", 0 * DAY, outcome="abandoned", wait=2.0))
    p = row(job_metric_panel(df, short_abandon_seconds=5), job_id="J")
    assert math.isnan(p["abandonment_rate"])


def test_empty_input_gives_an_empty_panel_with_every_column() -> None:
    df = frame(contact("1", 0 * DAY)).iloc[0:0]
    p = job_metric_panel(df, group_by=("job_id", "channel"))
    assert list(p.columns) == ["job_id", "channel", *PANEL_COLUMNS]
    assert p.empty


# --- abandonment, wait, handle, escalation ----------------------------------------------------


def test_abandonment_with_and_without_short_abandons() -> None:
    df = frame(
        contact("1", 0 * DAY, customer=None, outcome="abandoned", wait=3.0),
        contact("2", 0 * DAY, customer=None, outcome="abandoned", wait=5.0),  # == threshold
        contact("3", 0 * DAY, customer=None, outcome="abandoned", wait=6.0),
        contact("4", 0 * DAY, customer=None, outcome="abandoned", wait=None),
        contact("5", 0 * DAY, customer=None, outcome="served", wait=1.0),
        contact("6", 0 * DAY, customer=None, outcome="served", wait=1.0),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert (p["abandoned"], p["short_abandoned"]) == (4, 0)
    assert p["abandonment_rate"] == pytest.approx(4 / 6)
    p = row(job_metric_panel(df, short_abandon_seconds=5), job_id="J")
    # 1 and 2 are short (wait <= 5 s); 4 has no wait so is not short
    assert (p["abandoned"], p["short_abandoned"]) == (4, 2)
    assert p["abandonment_rate"] == pytest.approx(2 / 4)


def test_wait_and_handle_statistics_over_served_contacts() -> None:
    df = frame(
        contact("1", 0 * DAY, customer=None, wait=10, handle=100),
        contact("2", 0 * DAY, customer=None, wait=20, handle=200),
        contact("3", 0 * DAY, customer=None, wait=30, handle=300),
        contact("4", 0 * DAY, customer=None, wait=40, handle=None),
        contact("5", 0 * DAY, customer=None, outcome="abandoned", wait=1000),
        contact("6", 0 * DAY, customer=None, outcome="transferred", wait=1000, handle=9000),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert p["wait_mean_s"] == pytest.approx(25.0)
    assert p["wait_p50_s"] == pytest.approx(25.0)
    # linear interpolation: position 0.9 * 3 = 2.7 between 30 and 40
    assert p["wait_p90_s"] == pytest.approx(37.0)
    assert p["handle_mean_s"] == pytest.approx(200.0)
    assert p["handle_p90_s"] == pytest.approx(280.0)
    assert p["handle_std_s"] == pytest.approx(100.0)  # sample standard deviation


def test_escalation_and_transfer_rates_over_all_contacts() -> None:
    df = frame(
        contact("1", 0 * DAY, customer=None, outcome="escalated"),
        contact("2", 0 * DAY, customer=None, outcome="transferred"),
        contact("3", 0 * DAY, customer=None, outcome="transferred"),
        contact("4", 0 * DAY, customer=None, outcome="self_served"),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert p["escalation_rate"] == pytest.approx(0.25)
    assert p["transfer_rate"] == pytest.approx(0.5)
    assert p["abandonment_rate"] == 0.0


# --- episodes and channel hopping -------------------------------------------------------------


def test_episodes_split_on_gaps_longer_than_w_and_count_channel_hopping() -> None:
    df = frame(
        contact("1", 0 * DAY, channel="phone"),
        contact("2", 7 * DAY, channel="chat"),  # gap exactly W: same episode
        contact("3", 15 * DAY, channel="chat"),  # gap 8 days: new episode
        contact("4", 0 * DAY, customer="d", channel="email"),
    )
    p = row(job_metric_panel(df), job_id="J")
    assert p["episodes"] == 3
    assert p["contacts_per_episode"] == pytest.approx(4 / 3)
    assert p["channel_hopping_rate"] == pytest.approx(1 / 3)


def test_episode_counts_in_the_group_of_its_first_contact() -> None:
    df = frame(
        contact("1", 0 * DAY, channel="phone"),
        contact("2", 1 * DAY, channel="chat"),
        contact("3", 2 * DAY, channel="chat"),
    )
    p = job_metric_panel(df, group_by=("job_id", "channel"))
    phone = row(p, job_id="J", channel="phone")
    chat = row(p, job_id="J", channel="chat")
    assert (phone["episodes"], phone["contacts_per_episode"]) == (1, 3.0)
    assert phone["channel_hopping_rate"] == 1.0
    assert chat["episodes"] == 0
    assert math.isnan(chat["contacts_per_episode"])
    assert math.isnan(chat["channel_hopping_rate"])


# --- grouping ---------------------------------------------------------------------------------


def test_repeat_follows_the_job_across_other_groups() -> None:
    df = frame(
        contact("1", 0 * DAY, channel="phone"),
        contact("2", 1 * DAY, channel="chat"),
        contact("e", 30 * DAY, customer="x", channel="chat"),
    )
    p = job_metric_panel(df, group_by=("channel",))
    assert list(p.columns[:1]) == ["channel"]
    phone = row(p, channel="phone")
    # the phone contact is repeated by the chat contact although that is in another group
    assert (phone["eligible"], phone["repeated"], phone["repeat_rate"]) == (1, 1, 1.0)
    chat = row(p, channel="chat")
    assert (chat["eligible"], chat["censored"], chat["repeated"]) == (1, 1, 0)


def test_group_by_month_and_job() -> None:
    df = frame(
        contact("1", pd.Timestamp("2026-01-31 23:00", tz="UTC")),
        contact("2", pd.Timestamp("2026-02-02 10:00", tz="UTC")),
        contact("3", pd.Timestamp("2026-03-30 10:00", tz="UTC"), customer="x"),
    )
    df["month"] = df["started_at"].dt.strftime("%Y-%m")
    p = job_metric_panel(df, group_by=("job_id", "month"))
    assert list(p["month"]) == ["2026-01", "2026-02", "2026-03"]
    assert row(p, month="2026-01")["repeated"] == 1


def test_bad_input_is_a_user_error() -> None:
    df = frame(contact("1", 0 * DAY), contact("1", 1 * DAY))
    with pytest.raises(UserError, match="unique"):
        job_metric_panel(df)
    with pytest.raises(UserError, match="lack column"):
        job_metric_panel(df.drop(columns="job_id"))
    with pytest.raises(UserError, match="lack column"):
        job_metric_panel(df, group_by=("queue",))
    with pytest.raises(UserError, match="window_days"):
        job_metric_panel(df.iloc[:1], window_days=0)


# --- properties -------------------------------------------------------------------------------

OUTCOMES = ["served", "abandoned", "transferred", "escalated", "self_served"]


@st.composite
def contact_logs(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=40))
    rows = []
    for i in range(n):
        rows.append(
            contact(
                f"c{i:03d}",
                pd.Timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 30))),
                customer=draw(st.sampled_from([None, "a", "b", "c"])),
                job=draw(st.sampled_from([None, "J", "K"])),
                outcome=draw(st.sampled_from(OUTCOMES)),
                channel=draw(st.sampled_from(["phone", "chat"])),
                wait=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=600))),
                handle=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=3600))),
            )
        )
    return frame(*rows)


RATES = (
    "repeat_rate",
    "fcr",
    "abandonment_rate",
    "escalation_rate",
    "transfer_rate",
    "channel_hopping_rate",
)


@settings(max_examples=80, deadline=None)
@given(contact_logs(), st.integers(min_value=1, max_value=10), st.data())
def test_panel_properties(df: pd.DataFrame, window: int, data: st.DataObject) -> None:
    threshold = data.draw(st.one_of(st.none(), st.floats(min_value=0, max_value=60)))
    p = job_metric_panel(df, window_days=window, short_abandon_seconds=threshold)
    assert p["contacts"].sum() == len(df)
    for name in RATES:
        values = p[name].dropna()
        assert ((values >= 0) & (values <= 1)).all(), name
    assert (p["repeated"] <= p["eligible"]).all()
    assert (p["served_repeated"] <= p["served_eligible"]).all()
    mapped = p["job_id"].notna()
    assert (p["eligible"] + p["censored"] == p["identified"])[mapped].all()
    assert (p.loc[~mapped, ["eligible", "censored"]] == 0).all().all()
    with_served = p["served_eligible"] > 0
    expected = 1 - p["served_repeated"] / p["served_eligible"]
    assert ((p["fcr"] - expected)[with_served].abs() < 1e-12).all()
    assert p["fcr"][~with_served].isna().all()
    assert p["repeat_rate"][p["eligible"] == 0].isna().all()
    _check_against_a_loop(df, window, p)
    # every contact belongs to exactly one episode
    assert (p["contacts_per_episode"] * p["episodes"]).sum() == pytest.approx(len(df))

    shuffled = df.sample(frac=1, random_state=data.draw(st.integers(0, 2**16)))
    pd.testing.assert_frame_equal(
        job_metric_panel(shuffled, window_days=window, short_abandon_seconds=threshold), p
    )

    by_channel = job_metric_panel(df, window_days=window, group_by=("job_id", "channel"))
    totals = by_channel.groupby("job_id", dropna=False)[
        ["contacts", "identified", "eligible", "censored", "repeated", "episodes"]
    ].sum()
    pd.testing.assert_frame_equal(
        totals,
        p.set_index("job_id")[list(totals.columns)],
        check_names=False,
    )


def _check_against_a_loop(df: pd.DataFrame, window: int, panel: pd.DataFrame) -> None:
    """repeated, censored and episodes recounted contact by contact, the slow obvious way."""
    w = pd.Timedelta(days=window)
    records = [
        {
            k: (None if not isinstance(v, str | pd.Timestamp) and pd.isna(v) else v)
            for k, v in r.items()
        }
        for r in df.to_dict("records")
    ]
    records.sort(key=lambda r: (r["started_at"], r["contact_id"]))
    end = max(r["started_at"] for r in records)
    counts: dict[Any, list[int]] = {}
    for i, r in enumerate(records):
        c = counts.setdefault(r["job_id"], [0, 0, 0])
        linked = r["customer_id"] is not None and r["job_id"] is not None
        same = [
            j
            for j, s in enumerate(records)
            if linked and s["customer_id"] == r["customer_id"] and s["job_id"] == r["job_id"]
        ]
        later = [records[j] for j in same if j > i]
        earlier = [records[j] for j in same if j < i]
        if linked and r["started_at"] + w > end:
            c[1] += 1
        elif linked and later and later[0]["started_at"] - r["started_at"] <= w:
            c[0] += 1
        if not earlier or r["started_at"] - earlier[-1]["started_at"] > w:
            c[2] += 1
    for job, (repeated, censored, episodes) in counts.items():
        got = row(panel, job_id=job)
        assert (got["repeated"], got["censored"], got["episodes"]) == (
            repeated,
            censored,
            episodes,
        )


# --- the real Technion log --------------------------------------------------------------------


@pytest.mark.skipif(not TECHNION.exists(), reason=f"the Technion log is not here ({TECHNION})")
def test_technion_panel_by_reason_matches_an_independent_count() -> None:
    from jobgraph.analytics.contacts import read_technion

    contacts = read_technion(TECHNION, key=b"k" * 32).contacts.to_pandas()
    contacts["job_id"] = contacts["reason"]
    p = job_metric_panel(contacts).set_index("job_id")

    hang: dict[str, int] = {}
    offered: dict[str, int] = {}
    with TECHNION.open(newline="") as f:
        for rec in csv.DictReader(f, delimiter="\t"):
            if rec["outcome"] in ("AGENT", "HANG"):
                kind = rec["type"].strip()
                offered[kind] = offered.get(kind, 0) + 1
                hang[kind] = hang.get(kind, 0) + (rec["outcome"] == "HANG")
    assert set(p.index) == set(offered)
    for kind, n in offered.items():
        assert p.loc[kind, "contacts"] == n
        assert p.loc[kind, "abandoned"] == hang[kind]
        assert p.loc[kind, "abandonment_rate"] == pytest.approx(hang[kind] / n)
    assert (p["eligible"] + p["censored"] == p["identified"]).all()
    assert p["contacts"].sum() == sum(offered.values())
