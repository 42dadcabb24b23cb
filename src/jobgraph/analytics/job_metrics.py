"""The job metric panel: repeat contact, first contact resolution, abandonment, wait, handle,
escalation, transfer, episodes and channel hopping, per group of contacts.

This is the pandas *reference* implementation: written for obvious correctness, one step per
definition, so the faster engines can be tested against it. Every definition is in
``docs/metrics.md``; the code follows that page line by line.

Input: contacts in the canonical schema of ``jobgraph.analytics.contacts`` plus a ``job_id``
column (the contact's job after mapping; null when the contact is not mapped).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from jobgraph.errors import UserError

__all__ = ["PANEL_COLUMNS", "REQUIRED_COLUMNS", "job_metric_panel"]

REQUIRED_COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "channel",
    "outcome",
    "wait_seconds",
    "handle_seconds",
    "job_id",
)

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
    "wait_mean",
    "wait_p50",
    "wait_p90",
    "handle_mean",
    "handle_p90",
    "handle_std",
    "escalated",
    "escalation_rate",
    "transferred",
    "transfer_rate",
    "episodes",
    "contacts_per_episode",
    "channel_hopping_rate",
)

_COUNTS = (
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
)


def _utc(value: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN (never 0 or inf) where the denominator is 0."""
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _check(contacts: pd.DataFrame, group_by: Sequence[str], window_days: int) -> None:
    missing = [c for c in (*REQUIRED_COLUMNS, *group_by) if c not in contacts.columns]
    if missing:
        raise UserError(
            f"the contacts lack column(s) {', '.join(missing)}; the panel needs "
            f"{', '.join(REQUIRED_COLUMNS)} and every group-by column"
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
    df: pd.DataFrame, window: pd.Timedelta, end: pd.Timestamp, short_abandon: float | None
) -> pd.DataFrame:
    """One row per contact (``df`` is sorted by started_at, contact_id): the 0/1 flags and the
    episode each contact belongs to."""
    started = df["started_at"]
    outcome = df["outcome"].astype("string")
    identified = df["customer_id"].notna()
    linked = identified & df["job_id"].notna()

    # the chain of one customer's contacts for one job, in (started_at, contact_id) order
    chain = df.loc[linked].groupby(["customer_id", "job_id"], sort=False)["started_at"]
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
        .groupby([df.loc[linked, "customer_id"], df.loc[linked, "job_id"]], sort=False)
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


def job_metric_panel(
    contacts: pd.DataFrame,
    *,
    window_days: int = 7,
    as_of: pd.Timestamp | None = None,
    group_by: Sequence[str] = ("job_id",),
    short_abandon_seconds: float | None = None,
) -> pd.DataFrame:
    """The metric panel of ``contacts``, one row per group (see ``docs/metrics.md``).

    ``window_days`` is W, the repeat and episode window. The data end is ``as_of`` when given
    (contacts that start after it are left out) and the latest ``started_at`` otherwise; a
    contact whose window passes the data end is censored. ``short_abandon_seconds`` leaves
    abandons with a wait no longer than it out of the abandonment rate. Rows are the group-by
    columns (nulls form their own group) then ``PANEL_COLUMNS``, sorted by the group keys.
    """
    group_by = list(group_by)
    _check(contacts, group_by, window_days)
    window = pd.Timedelta(days=int(window_days))

    df = contacts.copy()
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

    flags = _flags(df, window, end, short_abandon_seconds)
    keys = [df[c] for c in group_by]
    grouped = flags.groupby(keys, dropna=False, sort=True)
    panel = grouped[[c for c in _COUNTS if c != "episodes"]].sum()
    index = panel.index

    served = flags["served"]
    for column, stats in (
        ("wait_seconds", {"mean": "mean", "p50": 0.5, "p90": 0.9}),
        ("handle_seconds", {"mean": "mean", "p90": 0.9, "std": "std"}),
    ):
        values = df.loc[served & df[column].notna(), column].astype("float64")
        by = values.groupby([k[values.index] for k in keys], dropna=False, sort=True)
        prefix = column.removesuffix("_seconds")
        for name, how in stats.items():
            if how == "mean":
                result = by.mean()
            elif how == "std":
                result = by.std(ddof=1)
            else:
                assert isinstance(how, float)
                result = by.quantile(how, interpolation="linear")
            panel[f"{prefix}_{name}"] = result.reindex(index).astype("float64")

    # an episode counts in the group of its first contact
    sizes = flags.groupby("episode")["contacts"].sum()
    channels = df.groupby(flags["episode"])["channel"].nunique()
    starts = flags.index[flags["episode_start"] == 1]
    episodes = pd.DataFrame(
        {
            "episodes": 1,
            "episode_contacts": sizes.reindex(starts).to_numpy(),
            "hopped": (channels.reindex(starts) > 1).astype("int64").to_numpy(),
        },
        index=starts,
    )
    by_episode = episodes.groupby([k[starts] for k in keys], dropna=False, sort=True).sum()
    by_episode = by_episode.reindex(index, fill_value=0)
    panel["episodes"] = by_episode["episodes"].astype("int64")

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

    panel = panel[list(PANEL_COLUMNS)].reset_index()
    panel.columns = [*group_by, *PANEL_COLUMNS]
    for c in _COUNTS:
        panel[c] = panel[c].astype("int64")
    return panel
