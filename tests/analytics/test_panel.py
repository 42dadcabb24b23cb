"""The Ibis panel (DuckDB and Spark) against the pandas reference of the same definitions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobgraph.analytics import panel_sorted
from jobgraph.analytics.job_metrics import COUNT_COLUMNS, PANEL_COLUMNS, job_metric_panel
from jobgraph.analytics.panel import _ratios, compute_panel, connect, mapped_contacts
from jobgraph.analytics.synthetic import generate_contacts
from jobgraph.errors import UserError

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def random_contacts(n: int, seed: int) -> pd.DataFrame:
    """Contacts with every awkward case: ties at one instant, nulls in ids, jobs and answers,
    few customers (long chains), all outcomes and channels."""
    rng = np.random.default_rng(seed)
    # whole hours, so that many contacts share an instant and the contact_id tie-break matters
    start = T0 + pd.to_timedelta(rng.integers(0, 40 * 24, n), unit="h")
    return pd.DataFrame(
        {
            "contact_id": [f"c{i:05d}" for i in rng.permutation(n)],
            "customer_id": pd.Series(rng.integers(0, max(2, n // 8), n).astype(str)).where(
                rng.random(n) > 0.2, None
            ),
            "started_at": start,
            "ended_at": (start + pd.to_timedelta(rng.integers(0, 4000, n), unit="s")).where(
                rng.random(n) > 0.1
            ),
            "channel": rng.choice(["phone", "chat", "email"], n),
            "agent_id": pd.Series(rng.choice(["a1", "a2", "a3"], n)).where(
                rng.random(n) > 0.3, None
            ),
            "outcome": rng.choice(
                ["served", "abandoned", "transferred", "escalated", "self_served"],
                n,
                p=[0.55, 0.2, 0.1, 0.05, 0.1],
            ),
            "wait_seconds": pd.Series(rng.exponential(30, n)).where(rng.random(n) > 0.05),
            "handle_seconds": pd.Series(rng.exponential(300, n)).where(rng.random(n) > 0.05),
            "job_id": pd.Series(rng.choice(["J1", "J2", "J3"], n)).where(rng.random(n) > 0.1, None),
            "ces": pd.Series(rng.integers(1, 8, n).astype(float)).where(rng.random(n) > 0.6),
            "csat": pd.Series(rng.integers(1, 6, n).astype(float)).where(rng.random(n) > 0.6),
            "nps": pd.Series(rng.integers(0, 11, n).astype(float)).where(rng.random(n) > 0.6),
            "goal_achieved": pd.Series(rng.random(n) > 0.5, dtype="object").where(
                rng.random(n) > 0.6, None
            ),
        }
    )


def assert_same(expected: pd.DataFrame, got: pd.DataFrame, keys: list[str]) -> None:
    expected = expected.sort_values(keys, na_position="last").reset_index(drop=True)
    got = got.sort_values(keys, na_position="last").reset_index(drop=True)
    assert list(got.columns) == [*keys, *PANEL_COLUMNS]
    assert len(expected) == len(got)
    for k in keys:
        assert expected[k].isna().tolist() == got[k].isna().tolist()
        assert expected[k].dropna().tolist() == got[k].dropna().tolist()
    for column in PANEL_COLUMNS:
        x = expected[column].to_numpy(dtype="float64")
        y = got[column].to_numpy(dtype="float64")
        if column in COUNT_COLUMNS:
            assert np.array_equal(x, y), column
        else:
            # sums of floats may be added up in another order by another engine
            assert np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True), (column, x, y)


CASES: list[dict[str, Any]] = [
    {"group_by": ["job_id"]},
    {"group_by": ["job_id", "channel"]},
    {"group_by": ["agent_id"]},
    {"group_by": ["channel"], "window_days": 3},
    {"group_by": ["job_id"], "as_of": "2026-01-25T12:00:00Z", "short_abandon_seconds": 10},
    {"group_by": ["job_id"], "window_days": 30, "csat_top": 7},
]


@pytest.fixture(scope="module")
def duckdb_backend() -> Any:
    return connect("duckdb")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_duckdb_panel_equals_the_reference(
    duckdb_backend: Any, seed: int, case: dict[str, Any]
) -> None:
    df = random_contacts(600, seed)
    kwargs = dict(case)
    if "as_of" in kwargs:
        kwargs["as_of"] = pd.Timestamp(kwargs["as_of"])
    expected = job_metric_panel(df, **kwargs)
    got = compute_panel(df, backend=duckdb_backend, **kwargs)
    assert_same(expected, got, list(case["group_by"]))
    # sanity: the definitions' own invariants hold on the engine's result
    mapped = got[got["job_id"].notna()] if "job_id" in got else got.iloc[0:0]
    if list(case["group_by"]) == ["job_id"]:
        assert (mapped["eligible"] + mapped["censored"] == mapped["identified"]).all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_duckdb_window_plan_equals_the_reference(duckdb_backend: Any, case: dict[str, Any]) -> None:
    """The window plan (the one Spark runs) stays checked on DuckDB too."""
    df = random_contacts(600, 7)
    kwargs = dict(case)
    if "as_of" in kwargs:
        kwargs["as_of"] = pd.Timestamp(kwargs["as_of"])
    got = compute_panel(df, backend=duckdb_backend, plan="window", **kwargs)
    assert_same(job_metric_panel(df, **kwargs), got, list(case["group_by"]))


def test_sorted_plan_carries_chains_across_small_batches(
    duckdb_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of 5 rows: most chains (few customers, long chains) span several batches
    monkeypatch.setattr(panel_sorted, "_BATCH_ROWS", 5)
    df = random_contacts(400, 8)
    for keys in (["job_id"], ["channel", "agent_id"]):
        got = compute_panel(df, backend=duckdb_backend, plan="sorted", group_by=keys)
        assert_same(job_metric_panel(df, group_by=keys), got, keys)


def test_sorted_plan_detects_hash_collisions_and_falls_back(
    duckdb_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = random_contacts(300, 9)
    expected = job_metric_panel(df)
    prepared = _prepared(duckdb_backend, df)
    real = panel_sorted._hash2
    # without collisions the sorted plan itself gives the panel (no silent fallback)
    merged = panel_sorted.sorted_panel_aggregates(duckdb_backend, prepared, **SORTED_ARGS)
    as_of = pd.Timestamp("2026-02-15", tz="UTC")
    assert_same(job_metric_panel(df, as_of=as_of), _ratios(merged, ["job_id"]), ["job_id"])

    # chains: only four distinct chain hashes, so different chains share one
    monkeypatch.setattr(panel_sorted, "_hash2", lambda a, b: real(a, b) % 4)
    with pytest.raises(panel_sorted.HashCollision, match="chains"):
        panel_sorted.sorted_panel_aggregates(duckdb_backend, prepared, **SORTED_ARGS)
    assert_same(expected, compute_panel(df, backend=duckdb_backend), ["job_id"])
    monkeypatch.setattr(panel_sorted, "_hash2", real)

    # group keys: every group hashes alike
    monkeypatch.setattr(panel_sorted, "_hash_all", lambda values: ibis.literal(7, "uint64"))
    with pytest.raises(panel_sorted.HashCollision, match="groups"):
        panel_sorted.sorted_panel_aggregates(duckdb_backend, prepared, **SORTED_ARGS)
    assert_same(expected, compute_panel(df, backend=duckdb_backend), ["job_id"])


SORTED_ARGS: dict[str, Any] = {
    "end_us": int(pd.Timestamp("2026-02-15", tz="UTC").value // 1000),
    "window_days": 7,
    "group_by": ["job_id"],
    "chain_by": "job_id",
    "short_abandon_seconds": None,
    "csat_top": 5,
}


def _prepared(backend: Any, df: pd.DataFrame) -> Any:
    from jobgraph.analytics.panel import _prepare, read_source

    return _prepare(backend, read_source(backend, df), "job_id", ["job_id"])


def test_unknown_plan_is_a_user_error(duckdb_backend: Any) -> None:
    with pytest.raises(UserError, match="unknown plan"):
        compute_panel(random_contacts(20, 0), backend=duckdb_backend, plan="fastest")


def test_reason_chain_before_any_mapping(duckdb_backend: Any, tmp_path: Path) -> None:
    table = generate_contacts(5000, seed=3)
    path = tmp_path / "contacts.parquet"
    pq.write_table(table, path)
    expected = job_metric_panel(table.to_pandas(), group_by=["reason"], chain_by="reason")
    got = compute_panel(str(path), backend=duckdb_backend, group_by=["reason"], chain_by="reason")
    assert_same(expected, got, ["reason"])
    assert got["contacts"].sum() == 5000
    assert (got["repeated"] > 0).all()


def test_mapping_joins_reasons_to_jobs(duckdb_backend: Any) -> None:
    table = generate_contacts(3000, seed=4)
    mapping = {"billing-question": "job.a", "unexpected-charge": "job.a", "card-lost": "job.b"}
    t = mapped_contacts(duckdb_backend, table, mapping)
    got = compute_panel(t, backend=duckdb_backend, group_by=["job_id"])
    df = table.to_pandas()
    df["job_id"] = df["reason"].map(mapping)
    assert_same(job_metric_panel(df), got, ["job_id"])
    assert got["job_id"].tolist() == ["job.a", "job.b", None]


def test_bad_arguments_are_user_errors(duckdb_backend: Any) -> None:
    df = random_contacts(20, 0)
    with pytest.raises(UserError, match="window_days"):
        compute_panel(df, backend=duckdb_backend, window_days=0)
    with pytest.raises(UserError, match="lack column"):
        compute_panel(df.drop(columns="outcome"), backend=duckdb_backend)
    with pytest.raises(UserError, match="at least one column"):
        compute_panel(df, backend=duckdb_backend, group_by=[])


def test_empty_after_as_of(duckdb_backend: Any) -> None:
    df = random_contacts(50, 0)
    got = compute_panel(df, backend=duckdb_backend, as_of=pd.Timestamp("2025-01-01", tz="UTC"))
    assert got.empty
    assert list(got.columns) == ["job_id", *PANEL_COLUMNS]


# --- Spark ------------------------------------------------------------------------------------


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'jobgraph[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed; Spark needs Java 17"
    return None


@pytest.fixture(scope="module")
def spark_backend() -> Any:
    reason = _spark_missing()
    if reason:
        pytest.skip(f"Spark tests skipped: {reason}")
    backend = connect("spark", spark_master="local[2]")
    yield backend
    backend._session.stop()


@pytest.mark.spark
def test_spark_and_duckdb_give_identical_panels(
    spark_backend: Any, duckdb_backend: Any, tmp_path: Path
) -> None:
    df = random_contacts(800, 5)
    path = tmp_path / "contacts.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    for case in CASES:
        kwargs = dict(case)
        if "as_of" in kwargs:
            kwargs["as_of"] = pd.Timestamp(kwargs["as_of"])
        keys = list(case["group_by"])
        on_spark = compute_panel(str(path), backend=spark_backend, **kwargs)
        on_duckdb = compute_panel(str(path), backend=duckdb_backend, **kwargs)
        assert_same(on_duckdb, on_spark, keys)
        assert_same(job_metric_panel(df, **kwargs), on_spark, keys)


@pytest.mark.spark
def test_spark_runs_the_mapping_join(spark_backend: Any, tmp_path: Path) -> None:
    table = generate_contacts(4000, seed=6)
    path = tmp_path / "contacts.parquet"
    pq.write_table(table, path)
    mapping = {"billing-question": "job.a", "payment-failed": "job.b"}
    got = compute_panel(mapped_contacts(spark_backend, str(path), mapping), backend=spark_backend)
    df = table.to_pandas()
    df["job_id"] = df["reason"].map(mapping)
    assert_same(job_metric_panel(df), got, ["job_id"])


def test_sorted_plan_reports_progress_to_the_last_linked_contact(
    duckdb_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(panel_sorted, "_BATCH_ROWS", 50)
    df = random_contacts(400, 10)
    seen: list[tuple[str, int, int | None]] = []
    compute_panel(df, backend=duckdb_backend, progress=lambda *a: seen.append(a))
    linked = int((df["customer_id"].notna() & df["job_id"].notna()).sum())
    stages = [s for s, _, _ in seen]
    assert stages[0] == "aggregating contacts"
    assert "sorting chains" in stages
    following = [(done, total) for s, done, total in seen if s == "following chains"]
    assert len(following) >= 2
    assert following[-1] == (linked, linked)
    assert [d for d, _ in following] == sorted(d for d, _ in following)


def _predictions(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    """What a classifier might have said at import: a job for some unmapped contacts, an
    abstention (null) for others, and a prediction that must lose to a reason rule."""
    df = table.to_pandas()
    rng = np.random.default_rng(11)
    picked = df[rng.random(len(df)) < 0.6]
    jobs = rng.choice(np.array(["job.a", "job.c", None], dtype=object), size=len(picked))
    return pa.table(
        {
            "contact_id": pa.array(picked["contact_id"].tolist(), pa.string()),
            "predicted_job": pa.array(jobs.tolist(), pa.string()),
        }
    )


def _expected_with_predictions(
    table: pa.Table, mapping: dict[str, str], predictions: pa.Table
) -> pd.DataFrame:
    df = table.to_pandas()
    predicted = dict(
        zip(
            predictions.column("contact_id").to_pylist(),
            predictions.column("predicted_job").to_pylist(),
            strict=True,
        )
    )
    by_rule = df["reason"].map(mapping)
    by_text = df["contact_id"].map(predicted)
    df["job_id"] = by_rule.where(by_rule.notna(), by_text)
    return job_metric_panel(df)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_predicted_jobs_fill_in_where_no_reason_rule_applies(
    engine: str, duckdb_backend: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = duckdb_backend if engine == "duckdb" else request.getfixturevalue("spark_backend")
    table = generate_contacts(4000, seed=8)
    mapping = {"billing-question": "job.a", "card-lost": "job.b"}
    predictions = _predictions(table, mapping)
    contacts_path, predictions_path = tmp_path / "contacts.parquet", tmp_path / "pred.parquet"
    pq.write_table(table, contacts_path)
    pq.write_table(predictions, predictions_path)
    mapped = mapped_contacts(backend, str(contacts_path), mapping, str(predictions_path))
    got = compute_panel(mapped, backend=backend)
    expected = _expected_with_predictions(table, mapping, predictions)
    assert_same(expected, got, ["job_id"])
    assert set(got["job_id"].dropna()) == {"job.a", "job.b", "job.c"}
    assert got["contacts"].sum() == 4000
