"""The job metric panel as Ibis expressions, run on DuckDB (embedded default) or PySpark.

The definitions are those of ``docs/metrics.md``, implemented once here and checked against the
pandas reference ``jobgraph.analytics.job_metrics`` by the tests, on both engines.

Two plans compute the same panel. On DuckDB the default is the *sorted* plan
(``panel_sorted``): one sort of the linked contacts streamed through numpy, several times faster.
The *window* plan below is pure Ibis and runs on every engine (Spark's only plan; DuckDB's
fallback when a hash collides):

1. Only the columns the panel reads are kept. Times become integer microseconds since the
   epoch, so every engine compares and subtracts them exactly (no interval dialects, no float
   rounding).
2. Linked contacts (identified and mapped) get one window per chain (customer, job) ordered by
   (start, contact id): their previous and next start, hence the repeat flag and whether they
   open or close an episode. Every other contact is an episode of its own.
3. Contacts are aggregated by the group keys. Linked contacts are numbered into episodes (a
   running count of episode starts, on a narrow projection) and aggregated per episode, the
   first and last contact found by their flags; episodes then by the group keys of their first
   contact.
4. The two group tables are joined null-safely in the query; the ratios are formed in pandas
   on rows that are one per group.

Percentiles are exact with linear interpolation on both engines (DuckDB ``quantile_cont``,
Spark ``percentile``), the same as numpy's default.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from jobgraph.analytics.job_metrics import (
    COUNT_COLUMNS,
    PANEL_COLUMNS,
    REQUIRED_COLUMNS,
    _ratio,
)
from jobgraph.analytics.panel_sorted import (
    HashCollision,
    Progress,
    contact_aggregates,
    count,
    sorted_panel_aggregates,
)
from jobgraph.errors import UserError

__all__ = [
    "Engine",
    "Plan",
    "compute_panel",
    "connect",
    "mapped_contacts",
    "panel_expressions",
    "spark_session",
]

_US_PER_DAY = 86_400_000_000


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


class Plan(StrEnum):
    """How the panel is computed: the same definitions, two query plans."""

    SORTED = "sorted"
    WINDOW = "window"


def _plan(backend: Any, plan: Plan | str | None) -> Plan:
    if plan is None:
        return Plan.SORTED if backend.name == "duckdb" else Plan.WINDOW
    try:
        chosen = Plan(plan)
    except ValueError:
        raise UserError(f"unknown plan {plan!r}; choose sorted or window") from None
    if chosen is Plan.SORTED and backend.name != "duckdb":
        raise UserError("the sorted plan runs on DuckDB; use plan='window' on Spark")
    return chosen


@ibis.udf.scalar.builtin(name="epoch_us")  # type: ignore[untyped-decorator]
def _duckdb_epoch_us(ts: datetime) -> int:  # type: ignore[empty-body]
    """DuckDB: microseconds since the epoch."""


@ibis.udf.scalar.builtin(name="unix_micros")  # type: ignore[untyped-decorator]
def _spark_epoch_us(ts: datetime) -> int:  # type: ignore[empty-body]
    """Spark: microseconds since the epoch."""


def spark_session(master: str | None = None) -> Any:
    """A Spark session set up for jobgraph: UTC, no UI, loopback, few shuffle partitions.

    ``master`` is ``local[*]`` by default or a cluster URL (``spark://host:7077``), also taken
    from ``JOBGRAPH_SPARK_MASTER``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError(
            "the Spark engine needs PySpark: pip install 'jobgraph[spark]' (and Java 17)"
        ) from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    master = master or os.environ.get("JOBGRAPH_SPARK_MASTER") or "local[*]"
    builder = (
        SparkSession.builder.master(master)
        .appName("jobgraph")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("JOBGRAPH_SPARK_PARTITIONS", "8"))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.ansi.enabled", "false")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(engine: Engine | str = Engine.DUCKDB, *, spark_master: str | None = None) -> Any:
    """An Ibis backend for ``engine``."""
    try:
        engine = Engine(engine)
    except ValueError:
        raise UserError(f"unknown engine {engine!r}; choose duckdb or spark") from None
    if engine is Engine.SPARK:
        return ibis.pyspark.connect(spark_session(spark_master))
    # out of core: DuckDB spills sorts and hash tables to disk beyond its memory limit
    # (JOBGRAPH_DUCKDB_MEMORY, e.g. "8GB"; DuckDB's default is 80 % of RAM)
    config: dict[str, Any] = {
        "preserve_insertion_order": False,
        "temp_directory": os.environ.get("JOBGRAPH_DUCKDB_TEMP")
        or os.path.join(tempfile.gettempdir(), "jobgraph-duckdb"),
    }
    # half the RAM by default (DuckDB's own default is 80 %, which left a 100M-contact run at a
    # 20 GiB peak on a 24 GiB machine); beyond it DuckDB spills to temp_directory
    limit = os.environ.get("JOBGRAPH_DUCKDB_MEMORY")
    if not limit:
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            limit = f"{max(1, ram // 2 // 2**30)}GB"
        except (ValueError, OSError, AttributeError):
            limit = None
    if limit:
        config["memory_limit"] = limit
    return ibis.duckdb.connect(**config)


def _epoch_us(backend: Any, column: ibis.Column) -> ibis.Column:
    name = backend.name
    if name == "duckdb":
        return _duckdb_epoch_us(column)
    if name == "pyspark":
        return _spark_epoch_us(column)
    raise UserError(f"the job metric panel runs on DuckDB or Spark, not on {name}")


def panel_expressions(
    backend: Any,
    t: ibis.Table,
    *,
    end_us: int,
    window_days: int,
    group_by: Sequence[str],
    chain_by: str,
    short_abandon_seconds: float | None,
    csat_top: float,
) -> tuple[ibis.Table, ibis.Table]:
    """The per-group contact aggregates and the per-group episode aggregates of ``t``.

    ``t`` holds contacts that start no later than the data end ``end_us``; it has the
    required columns, the chain column, the group-by columns and ``s_us`` / ``e_us`` (start and
    end in epoch microseconds).
    """
    w_us = int(window_days) * _US_PER_DAY
    keys = list(group_by)
    # only what the panel reads, so the sort and the shared intermediate stay narrow
    needed = [
        "contact_id",
        "customer_id",
        chain_by,
        "s_us",
        "e_us",
        "channel",
        "outcome",
        "wait_seconds",
        "handle_seconds",
        "ces",
        "csat",
        "nps",
        "goal_achieved",
        *keys,
    ]
    t = t.select(*dict.fromkeys(needed))
    is_linked = t.customer_id.notnull() & t[chain_by].notnull()

    # linked contacts: one window per chain (customer, job) in (start, contact id) order
    lt = t.filter(is_linked)
    chain = ibis.window(group_by=[lt.customer_id, lt[chain_by]], order_by=[lt.s_us, lt.contact_id])
    lt = lt.mutate(_next=lt.s_us.lead().over(chain), _prev=lt.s_us.lag().over(chain))
    lt = lt.mutate(
        _new_episode=(lt._prev.isnull() | ((lt.s_us - lt._prev) > w_us)).cast("int64"),
        _last_of_episode=lt._next.isnull() | ((lt._next - lt.s_us) > w_us),
    )
    lt = lt.mutate(_linked=ibis.literal(True))
    # every other contact is an episode of its own and has no next or previous contact
    ut = t.filter(~is_linked).mutate(
        _next=ibis.null("int64"),
        _prev=ibis.null("int64"),
        _new_episode=ibis.literal(1, "int64"),
        _last_of_episode=ibis.literal(True),
        _linked=ibis.literal(False),
    )
    t = lt.union(ut.select(*lt.columns), distinct=False)

    censored = t._linked & (t.s_us + w_us > end_us)
    eligible = t._linked & ~censored
    repeated = eligible & ((t._next - t.s_us) <= w_us).fill_null(False)
    served = t.outcome == "served"
    by_contact = t.group_by(keys).aggregate(
        **contact_aggregates(t, short_abandon_seconds=short_abandon_seconds, csat_top=csat_top),
        eligible=count(eligible),
        censored=count(censored),
        repeated=count(repeated),
        served_eligible=count(eligible & served),
        served_repeated=count(repeated & served),
    )

    # episodes of linked contacts: numbered by a running count of episode starts, on a narrow
    # projection (the second sort is cheaper than carrying every column through it)
    narrow = [
        "customer_id",
        chain_by,
        "s_us",
        "contact_id",
        "e_us",
        "channel",
        "outcome",
        "goal_achieved",
        "_new_episode",
        "_last_of_episode",
        *keys,
    ]
    lt = lt.select(*dict.fromkeys(narrow))
    lt = lt.mutate(
        _episode=lt._new_episode.cumsum(
            group_by=[lt.customer_id, lt[chain_by]], order_by=[lt.s_us, lt.contact_id]
        )
    )
    # an episode's first and last contacts are flagged, so plain (unordered) aggregates find
    # them: the first contact's group keys, the last contact's outcome and end
    first = lt._new_episode == 1
    last = lt._last_of_episode
    if set(keys) <= {chain_by, "customer_id"}:
        first_keys = {f"_g{i}": lt[k].max() for i, k in enumerate(keys)}
    else:
        first_keys = {f"_g{i}": lt[k].max(where=first) for i, k in enumerate(keys)}
    linked_episodes = lt.group_by([lt.customer_id, lt[chain_by], lt._episode]).aggregate(
        _n=lt.count(),
        _hopped=(lt.channel.min() != lt.channel.max()).cast("int64"),
        _last_start=lt.s_us.max(),
        _first_start=lt.s_us.min(),
        _last_end=lt.e_us.max(where=last),
        _last_outcome=lt.outcome.max(where=last),
        _last_goal=lt.goal_achieved.cast("int8").max(where=last) == 1,
        **first_keys,
    )
    solo_episodes = ut.select(
        _n=ibis.literal(1, "int64"),
        _hopped=ibis.literal(0, "int64"),
        _last_start=ut.s_us,
        _first_start=ut.s_us,
        _last_end=ut.e_us,
        _last_outcome=ut.outcome,
        _last_goal=ut.goal_achieved,
        **{f"_g{i}": ut[k] for i, k in enumerate(keys)},
    )
    columns = list(solo_episodes.columns)
    episodes = linked_episodes.select(*columns).union(
        solo_episodes.select(*columns), distinct=False
    )
    ep_censored = episodes._last_start + w_us > end_us
    completed = ~ep_censored & (
        episodes._last_outcome.isin(["served", "self_served"]).fill_null(False)
        | episodes._last_goal.fill_null(False)
    )
    ttr = ibis.ifelse(
        completed,
        (episodes._last_end - episodes._first_start).cast("float64") / 1e6,
        ibis.null("float64"),
    )
    episodes = episodes.mutate(_censored=ep_censored, _completed=completed, _ttr=ttr)
    by_episode = episodes.group_by(
        [episodes[f"_g{i}"].name(k) for i, k in enumerate(keys)]
    ).aggregate(
        episodes=episodes.count(),
        episodes_censored=episodes._censored.cast("int64").sum(),
        episodes_completed=episodes._completed.cast("int64").sum(),
        _episode_contacts=episodes._n.sum(),
        _hopped=episodes._hopped.sum(),
        ttr_mean_s=episodes._ttr.mean(),
        ttr_p90_s=episodes._ttr.quantile(0.9),
    )
    return by_contact, by_episode


def _ratios(merged: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The panel from one row per group of aggregates: episode counts of groups without
    episodes are 0, then the ratios of ``docs/metrics.md``."""
    for column in ("episodes", "episodes_censored", "episodes_completed", "_episode_contacts"):
        merged[column] = merged[column].fillna(0)
    merged["_hopped"] = merged["_hopped"].fillna(0)

    merged["repeat_rate"] = _ratio(merged["repeated"], merged["eligible"])
    merged["fcr"] = 1.0 - _ratio(merged["served_repeated"], merged["served_eligible"])
    merged["abandonment_rate"] = _ratio(
        merged["abandoned"] - merged["short_abandoned"],
        merged["contacts"] - merged["short_abandoned"],
    )
    merged["escalation_rate"] = _ratio(merged["escalated"], merged["contacts"])
    merged["transfer_rate"] = _ratio(merged["transferred"], merged["contacts"])
    merged["contacts_per_episode"] = _ratio(merged["_episode_contacts"], merged["episodes"])
    merged["channel_hopping_rate"] = _ratio(merged["_hopped"], merged["episodes"])
    merged["job_completion_rate"] = _ratio(
        merged["episodes_completed"], merged["episodes"] - merged["episodes_censored"]
    )
    merged["csat_top2"] = _ratio(merged["_csat_top"], merged["csat_n"])
    merged["nps"] = 100.0 * _ratio(merged["_promoters"] - merged["_detractors"], merged["nps_n"])
    merged["goal_achieved_rate"] = _ratio(merged["_goal_yes"], merged["goal_n"])

    out = merged[[*keys, *PANEL_COLUMNS]].copy()
    for c in PANEL_COLUMNS:
        out[c] = out[c].astype("int64" if c in COUNT_COLUMNS else "float64")
    for k in keys:
        out[k] = out[k].astype("object").where(out[k].notna(), None)
    out = out.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    return out


_OPTIONAL_TYPES = {
    "ended_at": "timestamp('UTC')",
    "ces": "float64",
    "csat": "float64",
    "nps": "float64",
    "goal_achieved": "boolean",
}


def _prepare(backend: Any, t: ibis.Table, chain_by: str, group_by: Sequence[str]) -> ibis.Table:
    missing = [c for c in (*REQUIRED_COLUMNS, chain_by, *group_by) if c not in t.columns]
    if missing:
        raise UserError(
            f"the contacts lack column(s) {', '.join(dict.fromkeys(missing))}; the panel needs "
            f"{', '.join(REQUIRED_COLUMNS)}, the chain column and every group-by column"
        )
    extra = {
        name: ibis.null(kind) for name, kind in _OPTIONAL_TYPES.items() if name not in t.columns
    }
    if extra:
        t = t.mutate(**extra)
    return t.mutate(s_us=_epoch_us(backend, t.started_at), e_us=_epoch_us(backend, t.ended_at))


def _end_us(as_of: Any, t: ibis.Table) -> int | None:
    if as_of is not None:
        ts = pd.Timestamp(as_of)
        ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
        return int(ts.value // 1000)
    value = t.s_us.max().execute()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def compute_panel(
    contacts: ibis.Table | pa.Table | pd.DataFrame | str | Path,
    *,
    backend: Any = None,
    window_days: int = 7,
    as_of: Any = None,
    group_by: Sequence[str] = ("job_id",),
    chain_by: str = "job_id",
    short_abandon_seconds: float | None = None,
    csat_top: float = 5,
    plan: Plan | str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The job metric panel (``docs/metrics.md``), one row per group, as a pandas frame.

    ``contacts`` is an Ibis table of ``backend``, an Arrow table or pandas frame (loaded into
    the backend), or a Parquet path or glob (read out of core). ``backend`` is an Ibis
    connection (``connect("duckdb")`` / ``connect("spark")``); DuckDB in memory by default.
    ``plan`` is ``sorted`` (DuckDB's default: one sort and a streaming pass,
    ``panel_sorted``) or ``window`` (window functions; the only plan on Spark).
    ``progress(stage, done, total)`` hears how the sorted plan gets on.
    """
    keys = list(group_by)
    if not keys:
        raise UserError("group_by needs at least one column, e.g. ('job_id',)")
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer):
        raise UserError(f"window_days must be a whole number of days, not {window_days!r}")
    if window_days <= 0:
        raise UserError(f"window_days must be at least 1, not {window_days}")
    backend = backend if backend is not None else connect(Engine.DUCKDB)
    t = _prepare(backend, read_source(backend, contacts), chain_by, keys)
    end_us = _end_us(as_of, t)
    if as_of is not None:
        t = t.filter(t.s_us <= end_us)
    if end_us is None:
        end_us = 0
    if _plan(backend, plan) is Plan.SORTED:
        try:
            merged = sorted_panel_aggregates(
                backend,
                t,
                end_us=end_us,
                window_days=int(window_days),
                group_by=keys,
                chain_by=chain_by,
                short_abandon_seconds=short_abandon_seconds,
                csat_top=csat_top,
                progress=progress,
            )
            return _ratios(merged, keys)
        except HashCollision:
            pass  # astronomically rare; the window plan needs no hashes
    by_contact, by_episode = panel_expressions(
        backend,
        t,
        end_us=end_us,
        window_days=int(window_days),
        group_by=keys,
        chain_by=chain_by,
        short_abandon_seconds=short_abandon_seconds,
        csat_top=csat_top,
    )
    # one query (group keys joined null-safely), so the engine sorts and windows the contacts
    # once for both aggregates
    right = by_episode.rename({f"_ek_{k}": k for k in keys})
    joined = by_contact.left_join(
        right, [by_contact[k].identical_to(right[f"_ek_{k}"]) for k in keys]
    ).drop(*[f"_ek_{k}" for k in keys])
    return _ratios(backend.to_pyarrow(joined).to_pandas(), keys)


def read_source(
    backend: Any, contacts: ibis.Table | pa.Table | pd.DataFrame | str | Path
) -> ibis.Table:
    """``contacts`` as an Ibis table of ``backend`` (Parquet paths and globs read out of core)."""
    if isinstance(contacts, str | Path):
        return backend.read_parquet(str(contacts))
    if isinstance(contacts, pa.Table | pd.DataFrame):
        return ibis.memtable(contacts)
    return contacts


def mapped_contacts(
    backend: Any,
    contacts: ibis.Table | pa.Table | pd.DataFrame | str | Path,
    mapping: Mapping[str, str],
    predictions: ibis.Table | pa.Table | pd.DataFrame | str | Path | None = None,
) -> ibis.Table:
    """The contacts with a ``job_id`` column: their reason's job under ``mapping`` (reason ->
    job id), null when the reason is not mapped. With ``predictions`` (``contact_id``,
    ``predicted_job``: what the text classifier said at import), a contact whose reason maps
    to no job takes its predicted job; abstained predictions have none and stay unmapped."""
    t = read_source(backend, contacts)
    if "job_id" in t.columns:
        t = t.drop("job_id")
    if not mapping:
        t = t.mutate(job_id=ibis.null("string"))
    else:
        rules = ibis.memtable(
            pa.table(
                {
                    "_reason": pa.array(list(mapping), pa.string()),
                    "job_id": pa.array(list(mapping.values()), pa.string()),
                }
            )
        )
        t = t.left_join(rules, t.reason == rules._reason).drop("_reason")
    if predictions is None:
        return t
    p = read_source(backend, predictions)
    p = p.select(_pid=p.contact_id, _pjob=p.predicted_job)
    joined = t.left_join(p, t.contact_id == p._pid)
    return joined.mutate(job_id=joined.job_id.coalesce(joined._pjob)).drop("_pid", "_pjob")
