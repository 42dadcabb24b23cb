"""The job metric panel on DuckDB in one sort: the fast plan of ``compute_panel``.

The window plan (``panel.panel_expressions``) sorts the linked contacts twice (a window for
previous and next contact, then a running count that numbers the episodes) and groups them by
episode; most of its time goes to sorting wide string keys. This plan asks DuckDB for what a
database does well and does the sequential part in one streaming numpy pass:

1. One plain aggregate by the group keys over every contact (volumes, waits, handle times,
   surveys, and the episodes of unlinked contacts, which are one contact each).
2. The linked contacts (identified and mapped), narrow and all numeric, sorted by
   (chain hash, start, contact id) and streamed in batches. Consecutive rows of one chain are
   one chain's contacts in order, so previous and next contact, repeats, episodes and each
   episode's first and last contact are array shifts, cumulative sums and ``reduceat``.
   A batch's last chain is carried into the next batch, so no chain is ever split.
3. The completed episodes' times to resolution are gathered per group for their mean and exact
   percentile (linear interpolation, as numpy's default and DuckDB's ``quantile_cont``).

Chains, group keys and channels travel as 64-bit hashes, never as strings. Hashes are checked,
not trusted: two chains sharing a hash show up as a change of a second, independent hash inside
one run of the first, and group keys and channels are checked to hash uniquely against their
distinct values; a collision raises :class:`HashCollision` and ``compute_panel`` falls back to
the window plan. The tests compare this plan with the pandas reference and with the window plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HashCollision", "Progress", "sorted_panel_aggregates"]

Progress = Callable[[str, int, int | None], None]

_US_PER_DAY = 86_400_000_000
_BATCH_ROWS = 1_000_000

# outcome codes carried through the sort (anything else is "other")
_SERVED, _SELF_SERVED, _OTHER = 0, 1, 2


class HashCollision(Exception):
    """Two different values share a 64-bit hash: the caller falls back to the window plan."""


@ibis.udf.scalar.builtin(name="hash", signature=((None,), dt.uint64))  # type: ignore[untyped-decorator]
def _hash(value: Any) -> Any:
    """DuckDB: the 64-bit hash of a value (null hashes to a constant)."""


@ibis.udf.scalar.builtin(name="hash", signature=((None, None), dt.uint64))  # type: ignore[untyped-decorator]
def _hash2(a: Any, b: Any) -> Any:
    """DuckDB: the 64-bit hash of two values."""


def _hash_all(values: Sequence[ibis.Value]) -> ibis.Value:
    out = _hash(values[0])
    for v in values[1:]:
        out = _hash2(out, v)
    return out


def count(flag: ibis.BooleanValue) -> ibis.IntegerScalar:
    """How many rows ``flag`` holds for (null counts as false)."""
    return flag.fill_null(False).cast("int64").sum()


def contact_aggregates(
    t: ibis.Table, *, short_abandon_seconds: float | None, csat_top: float
) -> dict[str, ibis.Scalar]:
    """The per-group aggregates that need no order: volumes, outcomes, wait and handle times
    of served contacts, and survey answers (both plans share them)."""
    served = t.outcome == "served"
    abandoned = t.outcome == "abandoned"
    if short_abandon_seconds is None:
        short = abandoned & ibis.literal(False)
    else:
        short = abandoned & (t.wait_seconds <= float(short_abandon_seconds)).fill_null(False)
    wait = ibis.ifelse(served, t.wait_seconds, ibis.null("float64"))
    handle = ibis.ifelse(served, t.handle_seconds, ibis.null("float64"))
    return {
        "contacts": t.count(),
        "identified": count(t.customer_id.notnull()),
        "abandoned": count(abandoned),
        "short_abandoned": count(short),
        "escalated": count(t.outcome == "escalated"),
        "transferred": count(t.outcome == "transferred"),
        "wait_mean_s": wait.mean(),
        "wait_p50_s": wait.quantile(0.5),
        "wait_p90_s": wait.quantile(0.9),
        "handle_mean_s": handle.mean(),
        "handle_p90_s": handle.quantile(0.9),
        "handle_std_s": handle.std(how="sample"),
        "ces_n": count(t.ces.notnull()),
        "ces_mean": t.ces.mean(),
        "csat_n": count(t.csat.notnull()),
        "_csat_top": count(t.csat >= float(csat_top) - 1),
        "nps_n": count(t.nps.notnull()),
        "_promoters": count(t.nps >= 9),
        "_detractors": count(t.nps <= 6),
        "goal_n": count(t.goal_achieved.notnull()),
        "_goal_yes": count(t.goal_achieved),
    }


@dataclass
class _Totals:
    """Per-group sums over the linked stream, indexed by group code."""

    n_groups: int
    eligible: np.ndarray = field(init=False)
    censored: np.ndarray = field(init=False)
    repeated: np.ndarray = field(init=False)
    served_eligible: np.ndarray = field(init=False)
    served_repeated: np.ndarray = field(init=False)
    episodes: np.ndarray = field(init=False)
    episodes_censored: np.ndarray = field(init=False)
    episodes_completed: np.ndarray = field(init=False)
    episode_contacts: np.ndarray = field(init=False)
    hopped: np.ndarray = field(init=False)
    ttr_codes: list[np.ndarray] = field(default_factory=list)
    ttr_values: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in (
            "eligible",
            "censored",
            "repeated",
            "served_eligible",
            "served_repeated",
            "episodes",
            "episodes_censored",
            "episodes_completed",
            "episode_contacts",
            "hopped",
        ):
            setattr(self, name, np.zeros(self.n_groups, dtype=np.int64))

    def add(self, name: str, codes: np.ndarray, weights: np.ndarray | None = None) -> None:
        counts = np.bincount(codes, weights=weights, minlength=self.n_groups)
        current = getattr(self, name)
        current += counts.astype(np.int64)


def _stream_columns(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    cols = {name: batch.column(name) for name in batch.schema.names}
    e = cols["e_us"]
    return {
        "h1": cols["h1"].to_numpy(),
        "h2": cols["h2"].to_numpy(),
        "s": cols["s_us"].to_numpy(),
        "e": e.fill_null(0).to_numpy(),
        "e_ok": e.is_valid().to_numpy(zero_copy_only=False),
        "o": cols["o"].to_numpy(),
        "g": cols["g"].to_numpy(),
        "ch": cols["ch"].to_numpy(),
        "kh": cols["kh"].to_numpy(),
    }


def _process(
    a: dict[str, np.ndarray], khs: np.ndarray, totals: _Totals, *, w: int, end: int
) -> None:
    """Add one run of whole chains (sorted by chain hash, start, contact id) to ``totals``."""
    n = len(a["s"])
    if n == 0:
        return
    h1, s = a["h1"], a["s"]
    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = h1[1:] == h1[:-1]
    # a run of one chain hash must be one chain: a second hash that changes inside it means
    # two chains collided on the first
    if np.any(same_prev[1:] & (a["h2"][1:] != a["h2"][:-1])):
        raise HashCollision("two contact chains share a 64-bit hash")
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = same_prev[1:]
    gap_prev = np.zeros(n, dtype=np.int64)
    gap_prev[1:] = s[1:] - s[:-1]
    gap_next = np.zeros(n, dtype=np.int64)
    gap_next[:-1] = gap_prev[1:]

    codes = np.searchsorted(khs, a["kh"])
    served = a["o"] == _SERVED
    censored = s + w > end
    eligible = ~censored
    repeated = eligible & same_next & (gap_next <= w)
    totals.add("censored", codes[censored])
    totals.add("eligible", codes[eligible])
    totals.add("repeated", codes[repeated])
    totals.add("served_eligible", codes[eligible & served])
    totals.add("served_repeated", codes[repeated & served])

    first = ~same_prev | (gap_prev > w)
    last = ~same_next | (gap_next > w)
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last)
    ep_codes = codes[starts]
    ch = a["ch"]
    hopped = np.minimum.reduceat(ch, starts) != np.maximum.reduceat(ch, starts)
    ep_censored = s[ends] + w > end
    last_o = a["o"][ends]
    completed = ~ep_censored & (
        (last_o == _SERVED) | (last_o == _SELF_SERVED) | (a["g"][ends] == 1)
    )
    totals.add("episodes", ep_codes)
    totals.add("episodes_censored", ep_codes[ep_censored])
    totals.add("episodes_completed", ep_codes[completed])
    totals.add("episode_contacts", ep_codes, (ends - starts + 1).astype(np.float64))
    totals.add("hopped", ep_codes[hopped])
    timed = completed & a["e_ok"][ends]
    totals.ttr_codes.append(ep_codes[timed])
    totals.ttr_values.append((a["e"][ends][timed] - s[starts][timed]).astype(np.float64) / 1e6)


def _batches(backend: Any, expr: ibis.Table) -> Any:
    """The rows of ``expr`` as a stream of Arrow batches, in the query's order.

    Ibis 12's ``to_pyarrow_batches`` calls a cursor method DuckDB 2 no longer has, so the
    compiled query goes through DuckDB's relation API (after Ibis registers the memtables).
    """
    backend._run_pre_execute_hooks(expr)
    return backend.con.sql(backend.compile(expr)).to_arrow_reader(_BATCH_ROWS)


def _last_chain_start(h1: np.ndarray) -> int:
    changes = np.flatnonzero(h1[1:] != h1[:-1])
    return int(changes[-1]) + 1 if len(changes) else 0


def _concat(x: dict[str, np.ndarray] | None, y: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if x is None:
        return y
    return {k: np.concatenate([x[k], y[k]]) for k in y}


def _slice(a: dict[str, np.ndarray], start: int, stop: int | None = None) -> dict[str, np.ndarray]:
    return {k: v[start:stop] for k, v in a.items()}


def _quantile_linear(codes: np.ndarray, values: np.ndarray, n_groups: int, q: float) -> np.ndarray:
    """Per-group ``q`` quantile with linear interpolation (numpy's default); NaN when empty."""
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    if n_groups <= 32:
        # few groups (jobs, channels): a mask per group reads the values a few times, cheaper
        # than sorting them all
        for g in np.flatnonzero(np.bincount(codes, minlength=n_groups)):
            out[g] = np.quantile(values[codes == g], q, method="linear")
        return out
    # a stable sort of small integer codes is a radix sort: linear, not n log n
    small = codes.astype(np.uint16) if n_groups <= np.iinfo(np.uint16).max else codes
    order = np.argsort(small, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        out[g] = np.quantile(values[order[bounds[g] : bounds[g + 1]]], q, method="linear")
    return out


def sorted_panel_aggregates(
    backend: Any,
    t: ibis.Table,
    *,
    end_us: int,
    window_days: int,
    group_by: Sequence[str],
    chain_by: str,
    short_abandon_seconds: float | None,
    csat_top: float,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per group with the aggregates ``panel._ratios`` turns into the panel.

    ``progress(stage, done, total)`` hears of each stage and of the linked contacts followed so
    far (``total`` is None while unknown).

    ``t`` is a DuckDB table of contacts prepared as for ``panel.panel_expressions`` (``s_us``,
    ``e_us``, and only contacts up to the data end ``end_us``).
    """
    report = progress or (lambda stage, done, total: None)
    w = int(window_days) * _US_PER_DAY
    keys = list(group_by)
    linked = t.customer_id.notnull() & t[chain_by].notnull()
    kh = _hash_all([t[k] for k in keys])
    t = t.mutate(_linked=linked, _kh=kh)

    solo = ~t._linked
    solo_censored = solo & (t.s_us + w > end_us)
    solo_completed = (
        solo
        & ~(t.s_us + w > end_us)
        & (
            t.outcome.isin(["served", "self_served"]).fill_null(False)
            | t.goal_achieved.fill_null(False)
        )
    )
    by_group = t.group_by(keys).aggregate(
        _kh=t._kh.max(),
        **contact_aggregates(t, short_abandon_seconds=short_abandon_seconds, csat_top=csat_top),
        _solo=count(solo),
        _solo_censored=count(solo_censored),
        _solo_completed=count(solo_completed),
        # the unlinked contacts' times to resolution, gathered in the same scan (each is an
        # episode of one contact, completed when its own outcome is)
        _solo_ttr=((t.e_us - t.s_us).cast("float64") / 1e6).collect(
            where=solo_completed & t.e_us.notnull()
        ),
    )
    report("aggregating contacts", 0, None)
    table = backend.to_pyarrow(by_group)
    solo_ttr = table.column("_solo_ttr")
    solo_values = pc.list_flatten(solo_ttr).to_numpy(zero_copy_only=False)
    solo_lengths = pc.list_value_length(solo_ttr).fill_null(0).to_numpy(zero_copy_only=False)
    groups = table.drop_columns(["_solo_ttr"]).to_pandas()
    khs = groups["_kh"].to_numpy(dtype=np.uint64)
    solo_kh = np.repeat(khs, solo_lengths)
    order = np.argsort(khs, kind="stable")
    groups = groups.iloc[order].reset_index(drop=True)
    khs = khs[order]
    if len(khs) > 1 and np.any(khs[1:] == khs[:-1]):
        raise HashCollision("two groups share a 64-bit hash")
    n_groups = len(groups)

    distinct_channels = t.select("channel").distinct()
    channels = backend.to_pyarrow(distinct_channels.mutate(_h=_hash(distinct_channels.channel)))
    channel_hashes = channels.column("_h").to_numpy()
    if len(np.unique(channel_hashes)) != len(channel_hashes):
        raise HashCollision("two channels share a 64-bit hash")

    totals = _Totals(n_groups)
    totals.ttr_codes.append(np.searchsorted(khs, solo_kh))
    totals.ttr_values.append(solo_values.astype(np.float64))

    lt = t.filter(t._linked)
    # the second hash only has to differ where the first collides. DuckDB's hash of a pair
    # combines the hashes of its parts, so two customers whose own hashes collide collide in
    # any pair; the second hash reads one string with the chain first, so the customer's
    # bytes are hashed from another starting state
    text_chain = lt[chain_by].cast("string") + ibis.literal("\x1f") + lt.customer_id.cast("string")
    goal = lt.goal_achieved.cast("int8").fill_null(-1)
    outcome = (
        ibis.cases(
            (lt.outcome == "served", _SERVED),
            (lt.outcome == "self_served", _SELF_SERVED),
            else_=_OTHER,
        )
    ).cast("uint8")
    narrow = lt.select(
        h1=_hash2(lt.customer_id, lt[chain_by]),
        h2=_hash(text_chain),
        s_us=lt.s_us,
        e_us=lt.e_us,
        o=outcome,
        g=goal,
        ch=_hash(lt.channel),
        kh=lt._kh,
        _cid=lt.contact_id,
    ).order_by(["h1", "s_us", "_cid"])
    narrow = narrow.drop("_cid")
    carry: dict[str, np.ndarray] | None = None
    total = int(groups["contacts"].sum() - groups["_solo"].sum())
    report("sorting chains", 0, total)
    done = 0
    for batch in _batches(backend, narrow):
        if batch.num_rows == 0:
            continue
        done += batch.num_rows
        report("following chains", done, total)
        a = _concat(carry, _stream_columns(batch))
        cut = _last_chain_start(a["h1"])
        _process(_slice(a, 0, cut), khs, totals, w=w, end=end_us)
        carry = _slice(a, cut)
    if carry is not None:
        _process(carry, khs, totals, w=w, end=end_us)

    solo_n = groups["_solo"].to_numpy(dtype=np.int64)
    groups["eligible"] = totals.eligible
    groups["censored"] = totals.censored
    groups["repeated"] = totals.repeated
    groups["served_eligible"] = totals.served_eligible
    groups["served_repeated"] = totals.served_repeated
    groups["episodes"] = totals.episodes + solo_n
    groups["episodes_censored"] = totals.episodes_censored + groups["_solo_censored"].to_numpy()
    groups["episodes_completed"] = totals.episodes_completed + groups["_solo_completed"].to_numpy()
    groups["_episode_contacts"] = totals.episode_contacts + solo_n
    groups["_hopped"] = totals.hopped
    codes = np.concatenate(totals.ttr_codes)
    values = np.concatenate(totals.ttr_values)
    n = np.bincount(codes, minlength=n_groups)
    sums = np.bincount(codes, weights=values, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        groups["ttr_mean_s"] = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    groups["ttr_p90_s"] = _quantile_linear(codes, values, n_groups, 0.9)
    return groups.drop(columns=["_kh", "_solo", "_solo_censored", "_solo_completed"])
