"""The job metric panel: repeat contact, first contact resolution, abandonment, wait, handle,
escalation, transfer, episodes and channel hopping, per group of contacts.

This is the pandas *reference* implementation: written for obvious correctness, one step per
definition, so the faster engines can be tested against it. Every definition is in
``docs/metrics.md``; the code follows that page line by line.

Input: contacts in the canonical schema of ``jobgraph.analytics.contacts`` plus a ``job_id``
column (the contact's job after mapping; null when the contact is not mapped). The survey columns
(``ended_at``, ``ces``, ``csat``, ``nps``, ``goal_achieved``) are optional.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from jobgraph.errors import UserError

__all__ = [
    "COUNT_COLUMNS",
    "OPTIONAL_COLUMNS",
    "PANEL_COLUMNS",
    "REQUIRED_COLUMNS",
    "job_metric_panel",
]

REQUIRED_COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "channel",
    "outcome",
    "wait_seconds",
    "handle_seconds",
)

OPTIONAL_COLUMNS = ("ended_at", "ces", "csat", "nps", "goal_achieved")

PANEL_COLUMNS = (
    "contacts",
    "identified",
    "eligible",
    "censored",
    "repeated",
    "repeat_rate",
    "served_eligible",
    "served_repeated",
    "fcr",
    "abandoned",
    "short_abandoned",
    "abandonment_rate",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p90_s",
    "handle_mean_s",
    "handle_p90_s",
    "handle_std_s",
    "escalated",
    "escalation_rate",
    "transferred",
    "transfer_rate",
    "episodes",
    "contacts_per_episode",
    "channel_hopping_rate",
    "episodes_censored",
    "episodes_completed",
    "job_completion_rate",
    "ttr_mean_s",
    "ttr_p90_s",
    "ces_n",
    "ces_mean",
    "csat_n",
    "csat_top2",
    "nps_n",
    "nps",
    "goal_n",
    "goal_achieved_rate",
)

COUNT_COLUMNS = (
    "contacts",
    "identified",
    "eligible",
    "censored",
    "repeated",
    "served_eligible",
    "served_repeated",
    "abandoned",
    "short_abandoned",
    "escalated",
    "transferred",
    "episodes",
    "episodes_censored",
    "episodes_completed",
    "ces_n",
    "csat_n",
    "nps_n",
    "goal_n",
)
_COUNTS = COUNT_COLUMNS


def _utc(value: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN (never 0 or inf) where the denominator is 0."""
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _check(
    contacts: pd.DataFrame, group_by: Sequence[str], window_days: int, chain_by: str
) -> None:
    missing = [c for c in (*REQUIRED_COLUMNS, chain_by, *group_by) if c not in contacts.columns]
    if missing:
        raise UserError(
            f"the contacts lack column(s) {', '.join(dict.fromkeys(missing))}; the panel needs "
            f"{', '.join(REQUIRED_COLUMNS)}, the chain column and every group-by column"
        )
    if not group_by:
        raise UserError("group_by needs at least one column, e.g. ('job_id',)")
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer):
        raise UserError(f"window_days must be a whole number of days, not {window_days!r}")
    if window_days <= 0:
        raise UserError(f"window_days must be at least 1, not {window_days}")
    duplicated = contacts["contact_id"].duplicated()
    if duplicated.any():
        first = contacts["contact_id"][duplicated].iloc[0]
        raise UserError(
            f"contact_id must be unique; {int(duplicated.sum())} duplicate(s), e.g. {first!r}"
        )
    if contacts["started_at"].isna().any():
        raise UserError("every contact needs started_at; some are missing")


def _flags(
    df: pd.DataFrame,
    window: pd.Timedelta,
    end: pd.Timestamp,
    short_abandon: float | None,
    chain_by: str,
) -> pd.DataFrame:
    """One row per contact (``df`` is sorted by started_at, contact_id): the 0/1 flags and the
    episode each contact belongs to."""
    started = df["started_at"]
    outcome = df["outcome"].astype("string")
    identified = df["customer_id"].notna()
    linked = identified & df[chain_by].notna()

    # the chain of one customer's contacts for one job, in (started_at, contact_id) order
    chain = df.loc[linked].groupby(["customer_id", chain_by], sort=False)["started_at"]
    next_start = chain.shift(-1).reindex(df.index)
    prev_start = chain.shift(1).reindex(df.index)

    censored = linked & (started + window > end)
    eligible = linked & ~censored
    repeated = eligible & ((next_start - started) <= window).fillna(False).astype(bool)
    served = (outcome == "served").fillna(False).astype(bool)
    abandoned = (outcome == "abandoned").fillna(False).astype(bool)
    if short_abandon is None:
        short = pd.Series(False, index=df.index)
    else:
        short = abandoned & (df["wait_seconds"] <= short_abandon).fillna(False).astype(bool)

    # an episode starts at every contact outside a chain and wherever a chain's gap exceeds W;
    # the episode is named by the position of its first contact
    new_episode = ~linked | prev_start.isna() | ((started - prev_start) > window)
    position = pd.Series(np.arange(len(df), dtype="float64"), index=df.index)
    first = position.where(new_episode)
    first.loc[linked] = (
        first.loc[linked]
        .groupby([df.loc[linked, "customer_id"], df.loc[linked, chain_by]], sort=False)
        .ffill()
    )

    return pd.DataFrame(
        {
            "contacts": 1,
            "identified": identified.astype("int64"),
            "eligible": eligible.astype("int64"),
            "censored": censored.astype("int64"),
            "repeated": repeated.astype("int64"),
            "served_eligible": (eligible & served).astype("int64"),
            "served_repeated": (repeated & served).astype("int64"),
            "abandoned": abandoned.astype("int64"),
            "short_abandoned": short.astype("int64"),
            "escalated": (outcome == "escalated").fillna(False).astype("int64"),
            "transferred": (outcome == "transferred").fillna(False).astype("int64"),
            "served": served,
            "episode": first.astype("int64"),
            "episode_start": new_episode.astype("int64"),
        },
        index=df.index,
    )


def _episodes(
    df: pd.DataFrame, flags: pd.DataFrame, window: pd.Timedelta, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per episode, indexed by the position of its first contact: size, channel hop,
    censoring, completion and time to resolution."""
    episode = flags["episode"]
    position = pd.Series(np.arange(len(df)), index=df.index)
    last = position.groupby(episode).max()
    starts = flags.index[flags["episode_start"] == 1]
    last = last.reindex(starts)
    at_last = df.iloc[last.to_numpy()].set_axis(starts)
    resolved = at_last["goal_achieved"].eq(True).fillna(False).astype(bool)
    censored = at_last["started_at"] + window > end
    completed = ~censored & (
        at_last["outcome"].astype("string").isin(["served", "self_served"]).fillna(False) | resolved
    )
    ttr = (at_last["ended_at"] - df["started_at"].loc[starts]).dt.total_seconds()
    return pd.DataFrame(
        {
            "episodes": 1,
            "episode_contacts": flags.groupby("episode")["contacts"].sum().reindex(starts),
            "hopped": (df.groupby(episode)["channel"].nunique().reindex(starts) > 1).astype(
                "int64"
            ),
            "episodes_censored": censored.astype("int64"),
            "episodes_completed": completed.astype("int64"),
            "ttr": ttr.where(completed),
        },
        index=starts,
    )


def _with_optional(df: pd.DataFrame) -> pd.DataFrame:
    for column in OPTIONAL_COLUMNS:
        if column not in df.columns:
            df[column] = pd.NaT if column == "ended_at" else np.nan
    df["ended_at"] = pd.to_datetime(df["ended_at"], utc=True)
    for column in ("ces", "csat", "nps"):
        df[column] = pd.to_numeric(df[column]).astype("float64")
    df["goal_achieved"] = df["goal_achieved"].astype("object")
    return df


def job_metric_panel(
    contacts: pd.DataFrame,
    *,
    window_days: int = 7,
    as_of: pd.Timestamp | None = None,
    group_by: Sequence[str] = ("job_id",),
    chain_by: str = "job_id",
    short_abandon_seconds: float | None = None,
    csat_top: float = 5,
) -> pd.DataFrame:
    """The metric panel of ``contacts``, one row per group (see ``docs/metrics.md``).

    ``window_days`` is W, the repeat and episode window. The data end is ``as_of`` when given
    (contacts that start after it are left out) and the latest ``started_at`` otherwise; a
    contact whose window passes the data end is censored. ``chain_by`` is the column that says
    "the same job" (``job_id``; ``reason`` before any mapping exists). ``short_abandon_seconds``
    leaves abandons with a wait no longer than it out of the abandonment rate; ``csat_top`` is
    the top of the CSAT scale (top-2-box counts answers of ``csat_top - 1`` and more). Rows are
    the group-by columns (nulls form their own group) then ``PANEL_COLUMNS``, sorted by the group
    keys.
    """
    group_by = list(group_by)
    _check(contacts, group_by, window_days, chain_by)
    window = pd.Timedelta(days=int(window_days))

    df = _with_optional(contacts.copy())
    df["started_at"] = pd.to_datetime(df["started_at"], utc=True)
    if as_of is not None:
        end = _utc(as_of)
        df = df.loc[df["started_at"] <= end]
    df = df.sort_values(["started_at", "contact_id"], kind="stable").reset_index(drop=True)
    if as_of is None:
        end = df["started_at"].max() if len(df) else pd.Timestamp(0, tz="UTC")

    if df.empty:
        columns = {c: pd.Series(dtype=contacts[c].dtype) for c in group_by}
        columns.update(
            {c: pd.Series(dtype="int64" if c in _COUNTS else "float64") for c in PANEL_COLUMNS}
        )
        return pd.DataFrame(columns)

    flags = _flags(df, window, end, short_abandon_seconds, chain_by)
    flags["ces_n"] = df["ces"].notna().astype("int64")
    flags["csat_n"] = df["csat"].notna().astype("int64")
    flags["csat_top2"] = (df["csat"] >= csat_top - 1).astype("int64")
    flags["nps_n"] = df["nps"].notna().astype("int64")
    flags["promoters"] = (df["nps"] >= 9).astype("int64")
    flags["detractors"] = (df["nps"] <= 6).astype("int64")
    goal = df["goal_achieved"]
    flags["goal_n"] = goal.notna().astype("int64")
    flags["goal_yes"] = goal.eq(True).fillna(False).astype("int64")

    keys = [df[c] for c in group_by]
    grouped = flags.groupby(keys, dropna=False, sort=True)
    per_contact = [
        *(c for c in _COUNTS if not c.startswith("episodes")),
        "csat_top2",
        "promoters",
        "detractors",
        "goal_yes",
    ]
    panel = grouped[per_contact].sum()
    index = panel.index

    served = flags["served"]
    for column, stats in (
        ("wait_seconds", {"mean": "mean", "p50": 0.5, "p90": 0.9}),
        ("handle_seconds", {"mean": "mean", "p90": 0.9, "std": "std"}),
        ("ces", {"mean": "mean"}),
    ):
        mask = df[column].notna() if column == "ces" else served & df[column].notna()
        values = df.loc[mask, column].astype("float64")
        by = values.groupby([k[values.index] for k in keys], dropna=False, sort=True)
        prefix = column.removesuffix("_seconds")
        suffix = "" if column == "ces" else "_s"
        for name, how in stats.items():
            if how == "mean":
                result = by.mean()
            elif how == "std":
                result = by.std(ddof=1)
            else:
                assert isinstance(how, float)
                result = by.quantile(how, interpolation="linear")
            panel[f"{prefix}_{name}{suffix}"] = result.reindex(index).astype("float64")

    # an episode counts in the group of its first contact
    episodes = _episodes(df, flags, window, end)
    starts = episodes.index
    episode_keys = [k[starts] for k in keys]
    by_episode = episodes.drop(columns="ttr").groupby(episode_keys, dropna=False, sort=True).sum()
    by_episode = by_episode.reindex(index, fill_value=0)
    for column in ("episodes", "episodes_censored", "episodes_completed"):
        panel[column] = by_episode[column].astype("int64")
    ttr = episodes["ttr"].dropna()
    ttr_by = ttr.groupby([k[ttr.index] for k in keys], dropna=False, sort=True)
    panel["ttr_mean_s"] = ttr_by.mean().reindex(index).astype("float64")
    panel["ttr_p90_s"] = ttr_by.quantile(0.9, interpolation="linear").reindex(index)

    panel["repeat_rate"] = _ratio(panel["repeated"], panel["eligible"])
    panel["fcr"] = 1.0 - _ratio(panel["served_repeated"], panel["served_eligible"])
    panel["abandonment_rate"] = _ratio(
        panel["abandoned"] - panel["short_abandoned"],
        panel["contacts"] - panel["short_abandoned"],
    )
    panel["escalation_rate"] = _ratio(panel["escalated"], panel["contacts"])
    panel["transfer_rate"] = _ratio(panel["transferred"], panel["contacts"])
    panel["contacts_per_episode"] = _ratio(by_episode["episode_contacts"], panel["episodes"])
    panel["channel_hopping_rate"] = _ratio(by_episode["hopped"], panel["episodes"])
    panel["job_completion_rate"] = _ratio(
        panel["episodes_completed"], panel["episodes"] - panel["episodes_censored"]
    )
    panel["csat_top2"] = _ratio(panel["csat_top2"], panel["csat_n"])
    panel["nps"] = 100.0 * _ratio(panel["promoters"] - panel["detractors"], panel["nps_n"])
    panel["goal_achieved_rate"] = _ratio(panel["goal_yes"], panel["goal_n"])

    panel = panel[list(PANEL_COLUMNS)].reset_index()
    panel.columns = [*group_by, *PANEL_COLUMNS]
    for c in _COUNTS:
        panel[c] = panel[c].astype("int64")
    return panel
