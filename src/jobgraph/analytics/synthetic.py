"""Synthetic, realistic contact logs for the demo and the benchmarks (seeded, vectorised).

The log is built from *episodes*: a customer needs a job done, contacts the centre about one
reason, and keeps coming back until it is resolved or they give up. So it has what the metric
panel measures: repeat chains with gaps of hours to weeks, channel hopping within an episode,
abandonment that rises with the wait, transfers and escalations, unidentified callers, sparse
survey answers, and reasons with a long-tailed volume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobgraph.analytics.contacts import CONTACT_SCHEMA

__all__ = ["DEFAULT_REASONS", "generate_contacts", "iter_contact_batches", "write_parquet"]

DEFAULT_REASONS = (
    "billing-question",
    "unexpected-charge",
    "payment-failed",
    "card-lost",
    "password-reset",
    "address-change",
    "delivery-late",
    "cancel-service",
    "technical-fault",
    "complaint",
    "plan-upgrade",
    "refund-status",
)
_CHANNELS = np.array(["phone", "chat", "email", "app"])
_CHANNEL_P = np.array([0.55, 0.25, 0.12, 0.08])
_US = 1_000_000


def generate_contacts(
    n: int,
    *,
    seed: int = 0,
    start: str = "2026-01-01",
    days: int = 90,
    reasons: Sequence[str] = DEFAULT_REASONS,
    customers: int | None = None,
    id_prefix: str = "",
) -> pa.Table:
    """``n`` contacts in the canonical contact schema, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    reasons_arr = np.asarray(list(reasons), dtype=object)
    customers = customers or max(1, n // 3)
    # episodes: how many contacts a job takes depends on the reason (some are resolved at the
    # first contact far more often than others); about 1.6 contacts on average
    weights = 1.0 / np.arange(1, len(reasons_arr) + 1) ** 0.9
    resolve_p = np.random.default_rng(len(reasons_arr)).uniform(0.45, 0.8, len(reasons_arr))
    n_episodes = max(1, int(n / 1.4) + 16)
    ep_reason = rng.choice(len(reasons_arr), n_episodes, p=weights / weights.sum())
    lengths = rng.geometric(resolve_p[ep_reason])
    while lengths.sum() < n:
        extra = rng.choice(len(reasons_arr), n_episodes, p=weights / weights.sum())
        ep_reason = np.concatenate([ep_reason, extra])
        lengths = np.concatenate([lengths, rng.geometric(resolve_p[extra])])
    ends = np.cumsum(lengths)
    n_ep = int(np.searchsorted(ends, n) + 1)
    lengths = lengths[:n_ep]
    ep_reason = ep_reason[:n_ep]
    episode = np.repeat(np.arange(n_ep), lengths)[:n]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(n) - offsets[episode]
    is_last = np.zeros(n, dtype=bool)
    is_last[np.minimum(offsets + lengths - 1, n - 1)] = True

    # who: some callers are never identified
    ep_customer = rng.integers(0, customers, n_ep)
    ep_identified = rng.random(n_ep) < 0.82
    ep_start_us = rng.integers(0, days * 86_400 * _US, n_ep)

    # gaps between contacts of an episode: mostly within days, sometimes longer than a week
    gap_s = np.where(position > 0, rng.exponential(2.5 * 86_400, n), 0.0)
    gap_us = (gap_s * _US).astype(np.int64)
    cum = np.cumsum(gap_us)
    started_us = ep_start_us[episode] + (cum - cum[offsets][episode])

    # channel: a preferred one per episode, hopping on 20 % of follow-ups
    ep_channel = rng.choice(len(_CHANNELS), n_ep, p=_CHANNEL_P)
    hop = (position > 0) & (rng.random(n) < 0.2)
    channel_idx = np.where(hop, rng.choice(len(_CHANNELS), n, p=_CHANNEL_P), ep_channel[episode])
    channel = _CHANNELS[channel_idx]

    # wait, then outcome: long waits are abandoned more often
    wait = rng.lognormal(3.2, 1.0, n)
    wait = np.where(channel == "email", wait * 40, wait)
    u = rng.random(n)
    p_abandon = np.where(channel == "email", 0.01, np.clip(0.03 + wait / 1500, 0, 0.5))
    unresolved = ~is_last
    outcome = np.where(
        u < p_abandon,
        "abandoned",
        np.where(
            unresolved & (u < p_abandon + 0.12),
            "transferred",
            np.where(
                unresolved & (u < p_abandon + 0.16),
                "escalated",
                np.where((channel == "app") & (u > 0.6), "self_served", "served"),
            ),
        ),
    )
    # a share of episodes end unresolved: the customer gives up after an abandon
    gave_up = is_last & (rng.random(n) < 0.07)
    outcome = np.where(gave_up, "abandoned", outcome)
    served = outcome == "served"
    handle = np.where(
        np.isin(outcome, ["served", "transferred", "escalated"]),
        rng.lognormal(5.4, 0.6, n),
        np.nan,
    )
    ended_us = started_us + ((wait + np.nan_to_num(handle)) * _US).astype(np.int64)

    # sparse post-contact surveys, better when the episode ends served
    asked = served & (rng.random(n) < 0.12)
    good = is_last & served
    ces = np.where(
        asked, np.clip(np.round(rng.normal(np.where(good, 2.4, 4.6), 1.1)), 1, 7), np.nan
    )
    csat = np.where(
        asked, np.clip(np.round(rng.normal(np.where(good, 4.2, 2.9), 0.9)), 1, 5), np.nan
    )
    nps = np.where(
        asked, np.clip(np.round(rng.normal(np.where(good, 8.2, 5.0), 2.0)), 0, 10), np.nan
    )
    goal = pd.array(np.where(asked, good, False), dtype="boolean")
    goal[~asked] = pd.NA

    t0 = pd.Timestamp(start, tz="UTC").value // 1000
    started = pa.array(started_us + t0, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    ended = pa.array(ended_us + t0, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    ids = pc.binary_join_element_wise(
        pa.scalar(f"{id_prefix}s{seed}-"), pc.cast(pa.array(np.arange(n)), pa.string()), ""
    )
    customer = pc.binary_join_element_wise(
        pa.scalar("cust-"), pc.cast(pa.array(ep_customer[episode]), pa.string()), ""
    )
    customer = pc.if_else(pa.array(ep_identified[episode]), customer, pa.nulls(n, pa.string()))
    agents = pc.binary_join_element_wise(
        pa.scalar("agent-"), pc.cast(pa.array(rng.integers(0, 400, n)), pa.string()), ""
    )
    agents = pc.if_else(pa.array(served), agents, pa.nulls(n, pa.string()))
    month = pc.strftime(started, format="%Y-%m")
    columns = {
        "contact_id": ids,
        "customer_id": customer,
        "started_at": started,
        "ended_at": ended,
        "channel": pa.array(channel, type=pa.string()),
        "queue": pa.array(np.char.add("q-", channel.astype(str)), type=pa.string()),
        "reason": pa.array(reasons_arr[ep_reason][episode], type=pa.string()),
        "agent_id": agents,
        "outcome": pa.array(outcome, type=pa.string()),
        "wait_seconds": pa.array(
            np.where(outcome == "self_served", np.nan, wait), from_pandas=True
        ),
        "handle_seconds": pa.array(handle, from_pandas=True),
        "text": pa.nulls(n, pa.string()),
        "ces": pa.array(ces, from_pandas=True),
        "csat": pa.array(csat, from_pandas=True),
        "nps": pa.array(nps, from_pandas=True),
        "goal_achieved": pa.array(goal, type=pa.bool_()),
        "persona_id": pa.nulls(n, pa.string()),
        "source": pa.array(np.full(n, "synthetic"), type=pa.string()),
        "month": month,
    }
    return pa.table([columns[f] for f in CONTACT_SCHEMA.names], schema=CONTACT_SCHEMA)


def iter_contact_batches(
    n: int, *, batch: int = 5_000_000, seed: int = 0, **kwargs: object
) -> Iterator[pa.Table]:
    """``n`` contacts in batches of at most ``batch`` (distinct ids and customers per batch)."""
    done = 0
    part = 0
    while done < n:
        size = min(batch, n - done)
        yield generate_contacts(size, seed=seed * 10_000 + part, id_prefix=f"b{part}", **kwargs)  # type: ignore[arg-type]
        done += size
        part += 1


def write_parquet(folder: Path, n: int, *, batch: int = 5_000_000, seed: int = 0) -> list[Path]:
    """Write ``n`` synthetic contacts to ``folder/part-*.parquet`` in bounded memory."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, table in enumerate(iter_contact_batches(n, batch=batch, seed=seed)):
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(table, path, row_group_size=1_000_000)
        files.append(path)
    return files
