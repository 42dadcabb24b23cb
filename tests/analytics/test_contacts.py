from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobgraph.analytics import contacts as c
from jobgraph.errors import UserError

KEY = b"test-key-0123456789abcdef"
TECHNION = Path("/work/shared/data/technion-callcenter/october-1999.tsv")
needs_technion = pytest.mark.skipif(
    not TECHNION.exists(), reason=f"the real Technion log is not on this machine ({TECHNION})"
)


@pytest.fixture(scope="module")
def technion() -> c.IngestResult:
    if not TECHNION.exists():
        pytest.skip(f"the real Technion log is not on this machine ({TECHNION})")
    return c.read_technion(TECHNION, key=KEY)


def _independent_counts() -> tuple[int, dict[str, int], list[str]]:
    with TECHNION.open(newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))[1:]
    outcomes: dict[str, int] = {}
    for row in rows:
        if len(row) == 17:
            outcomes[row[12]] = outcomes.get(row[12], 0) + 1
    ids = sorted({row[2] for row in rows if len(row) == 17 and row[2] != "0"})
    return len(rows), outcomes, ids


@needs_technion
def test_technion_counts_match_an_independent_count(technion: c.IngestResult) -> None:
    read, outcomes, _ = _independent_counts()
    n = technion.counts
    assert read == n.read == 34_625
    assert technion.excluded == {"phantom call": outcomes["PHANTOM"]}
    assert n.excluded == outcomes["PHANTOM"] > 0
    assert n.accepted + n.quarantined + n.excluded == n.read
    assert set(technion.quarantine["reason"]) <= {r.value for r in c.QuarantineReason}
    got = technion.contacts.column("outcome").to_pandas().value_counts()
    assert got["served"] == outcomes["AGENT"]
    assert got["abandoned"] == outcomes["HANG"]
    share = got["abandoned"] / n.accepted
    assert 0.05 < share < 0.2
    assert technion.contacts.schema == c.CONTACT_SCHEMA
    assert technion.contacts.column("contact_id").to_pandas().is_unique


@needs_technion
def test_technion_quarantines_the_two_malformed_rows_by_line(technion: c.IngestResult) -> None:
    q = technion.quarantine
    assert list(q["line"]) == [7315, 14247]
    assert set(q["reason"]) == {"malformed row"}
    assert json.loads(q["raw"].iloc[0])[0] == "AA0108"


@needs_technion
def test_technion_fields(technion: c.IngestResult) -> None:
    df = technion.contacts.to_pandas()
    first = df.iloc[1]  # AA0101 46087 991001 7:15:55 AGENT BASCH, Israel is UTC+2 in October
    assert first["contact_id"] == "technion-AA0101-46087-991001"
    assert first["started_at"] == pd.Timestamp("1999-10-01 05:15:55", tz="UTC")
    assert first["ended_at"] == pd.Timestamp("1999-10-01 05:17:10", tz="UTC")
    assert (first["agent_id"], first["outcome"], first["handle_seconds"]) == ("BASCH", "served", 62)
    assert first["queue"] == "AA01" and first["reason"] == "PS" and first["channel"] == "phone"
    abandoned = df[df["outcome"] == "abandoned"]
    assert abandoned["handle_seconds"].isna().all() and abandoned["agent_id"].isna().all()


@needs_technion
def test_technion_customer_ids_never_stored_raw(technion: c.IngestResult) -> None:
    _, _, raw_ids = _independent_counts()
    sample = set(raw_ids[:5] + raw_ids[-5:])
    df = technion.contacts.to_pandas()
    for column in df.columns:
        values = set(df[column].dropna().astype(str))
        assert not sample & values, column
    assert df["customer_id"].notna().sum() > 0
    assert df["customer_id"].dropna().str.fullmatch(r"[0-9a-f]{24}").all()
    assert c.pseudonymise(raw_ids[0], KEY) in set(df["customer_id"])


@needs_technion
def test_technion_store_round_trip_is_idempotent(technion: c.IngestResult, tmp_path: Path) -> None:
    first = c.write_contacts(technion.contacts, tmp_path)
    assert first.added == technion.counts.accepted and first.already_present == 0
    assert (tmp_path / "month=1999-10").is_dir()
    again = c.write_contacts(technion.contacts, tmp_path)
    assert again.added == 0 and again.already_present == technion.counts.accepted
    assert c.read_contacts(tmp_path).num_rows == technion.counts.accepted


# --- generic reader ---------------------------------------------------------------------------

MAPPING = """
timezone = "Europe/London"
[columns]
contact_id = "Id"
customer_id = "Customer"
started_at = "Start"
ended_at = "End"
outcome = "Status"
handle_seconds = "Handle"
text = "Notes"
goal_achieved = "Goal"
[defaults]
channel = "chat"
[outcomes]
"Completed" = "served"
"Dropped" = "abandoned"
"Test" = "excluded"
"""
HEADER = "Id,Customer,Start,End,Status,Handle,Notes,Goal\n"


def _generic(tmp_path: Path, body: str) -> c.IngestResult:
    (tmp_path / "map.toml").write_text(MAPPING)
    (tmp_path / "export.csv").write_text(HEADER + body)
    return c.read_generic(
        tmp_path / "export.csv", c.ContactMapping.read(tmp_path / "map.toml"), key=KEY
    )


def test_generic_accepts_good_rows(tmp_path: Path) -> None:
    r = _generic(
        tmp_path,
        "A1,cust-9,2024-07-01 10:00:00,2024-07-01 10:05:00,Completed,300,mail me at a@b.com,yes\n",
    )
    row = r.contacts.to_pandas().iloc[0]
    assert r.counts == c.IngestCounts(read=1, accepted=1, quarantined=0, excluded=0)
    assert row["started_at"] == pd.Timestamp("2024-07-01 09:00", tz="UTC")  # BST
    assert row["text"] == "mail me at [EMAIL]"
    assert r.contacts.column("goal_achieved").to_pylist() == [True]
    assert row["customer_id"] == c.pseudonymise("cust-9", KEY) and row["channel"] == "chat"
    assert row["month"] == "2024-07"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("A2,x,yesterday,,Completed,1,,", "bad timestamp"),
        ("A2,x,2024-07-01 10:00,2024-07-01 09:00,Completed,1,,", "negative duration"),
        ("A2,x,2024-07-01 10:00,,Completed,-5,,", "negative duration"),
        ("A1,x,2024-07-01 10:00,,Completed,1,,", "duplicate contact id"),
        ("A2,x,2024-07-01 10:00,,Lost,1,,", "unknown outcome"),
        (",x,2024-07-01 10:00,,Completed,1,,", "missing contact id"),
        ("A2,x,2024-07-01 10:00,,Completed,lots,,", "bad number"),
        ("A2,x,2024-07-01 10:00,,Completed,1,,maybe", "bad value"),
        ("A2,x,2024-07-01 10:00,Completed", "malformed row"),
    ],
)
def test_generic_quarantines_each_reason_with_its_line(
    tmp_path: Path, row: str, reason: str
) -> None:
    good = "A1,x,2024-07-01 09:00,,Completed,1,,\n"
    r = _generic(tmp_path, good + row + "\n" + "A3,x,2024-07-02 09:00,,Test,1,,\n")
    assert r.counts == c.IngestCounts(read=3, accepted=1, quarantined=1, excluded=1)
    q = r.quarantine.iloc[0]
    assert (q["line"], q["reason"]) == (3, reason)
    assert q["detail"].startswith("export.csv:3:")
    assert r.excluded == {"outcome Test": 1}


def test_generic_parquet(tmp_path: Path) -> None:
    starts = pa.array([1706743800_000000, 1706747400_000000], pa.timestamp("us", tz="UTC"))
    table = pa.table({"Id": ["p1", "p2"], "Start": starts, "Status": ["Completed", "Nope"]})
    pq.write_table(table, tmp_path / "x.parquet")
    mapping = c.ContactMapping(
        columns={"contact_id": "Id", "started_at": "Start", "outcome": "Status"},
        outcomes={"Completed": "served"},
        defaults={"channel": "email"},
    )
    r = c.read_generic(tmp_path / "x.parquet", mapping, key=KEY)
    assert r.counts.accepted == 1 and list(r.quarantine["line"]) == [2]
    assert json.loads(r.quarantine["raw"].iloc[0])["Status"] == "Nope"


def test_mapping_errors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[columns]\ncontact_id = "Id"\nflavour = "F"\n')
    with pytest.raises(UserError, match="flavour") as err:
        c.ContactMapping.read(tmp_path / "bad.toml")
    assert "started_at" in str(err.value) and "bad.toml" in str(err.value)


# --- privacy ----------------------------------------------------------------------------------


def test_redact_examples() -> None:
    assert c.redact("card 4111 1111 1111 1111 ok") == "card [CARD] ok"
    assert c.redact("card 4111-1111-1111-1111") == "card [CARD]"
    assert c.redact("ref 1234 5678 9012 3456") == "ref 1234 5678 9012 3456"  # fails Luhn
    assert c.redact("to GB82WEST12345698765432.") == "to [IBAN]."
    assert c.redact("to GB82 WEST 1234 5698 7654 32 THANKS") == "to [IBAN] THANKS"
    assert c.redact("GB83WEST12345698765432") == "GB83WEST12345698765432"  # fails mod 97
    assert c.redact("mail jane.doe+x@example.co.uk now") == "mail [EMAIL] now"
    assert c.redact("call +44 20 7946 0958 or (555) 123-4567") == "call [PHONE] or [PHONE]"
    assert c.redact("on 2024-03-01 order 123456789, 3 items") == (
        "on 2024-03-01 order 123456789, 3 items"
    )


_PIECES = st.sampled_from(
    [
        " ",
        "-",
        "+",
        "(",
        ")",
        ".",
        "@",
        "a",
        "Z",
        "x@y.com",
        "4111111111111111",
        "GB82WEST12345698765432",
        "020 7946 0958",
        "1234 5678 9012 3456",
        "GB",
        "0",
    ]
)
_TEXT = st.one_of(
    st.lists(st.one_of(_PIECES, st.from_regex(r"\d{1,5}", fullmatch=True))).map("".join),
    st.text(),
)


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


@given(_TEXT)
def test_redact_is_idempotent_and_only_removes_digits(text: str) -> None:
    once = c.redact(text)
    assert c.redact(once) == once
    assert _is_subsequence(_digits(once), _digits(text))


# --- store ------------------------------------------------------------------------------------


def _contacts(tmp_path: Path, ids: list[str], starts: list[str]) -> pa.Table:
    pd.DataFrame({"id": ids, "start": starts, "status": "served"}).to_csv(
        tmp_path / "in.csv", index=False
    )
    mapping = c.ContactMapping(
        columns={"contact_id": "id", "started_at": "start", "outcome": "status"},
        outcomes={"served": "served"},
        defaults={"channel": "phone"},
    )
    return c.read_generic(tmp_path / "in.csv", mapping, key=KEY).contacts


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_write_is_idempotent_per_contact(tmp_path: Path) -> None:
    store = tmp_path / "store"
    t1 = _contacts(tmp_path, ["a", "b"], ["2024-01-05", "2024-02-05"])
    assert c.write_contacts(t1, store).added == 2
    t2 = _contacts(tmp_path, ["b", "c"], ["2024-02-05", "2024-02-06"])
    report = c.write_contacts(t2, store)
    assert (report.added, report.already_present, report.months) == (1, 1, ("2024-02",))
    assert sorted(c.read_contacts(store).column("contact_id").to_pylist()) == ["a", "b", "c"]
    assert sorted(p.name for p in store.iterdir()) == ["month=2024-01", "month=2024-02"]


def test_failed_write_leaves_the_folder_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    c.write_contacts(_contacts(tmp_path, ["a"], ["2024-01-05"]), store)
    before = _snapshot(store)
    real = pq.write_table
    calls = []

    def flaky(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(c.pq, "write_table", flaky)
    more = _contacts(tmp_path, ["b", "c", "d"], ["2024-01-06", "2024-02-05", "2024-03-05"])
    with pytest.raises(OSError, match="disk full"):
        c.write_contacts(more, store)
    assert _snapshot(store) == before
    assert c.read_contacts(store).column("contact_id").to_pylist() == ["a"]


def test_read_contacts_of_an_empty_folder(tmp_path: Path) -> None:
    assert c.read_contacts(tmp_path).schema == c.CONTACT_SCHEMA


def test_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="16 random bytes"):
        c.read_technion(tmp_path / "x.tsv", key=b"short")


def test_redact_frees_a_phone_number_glued_to_a_card() -> None:
    # found by Hypothesis: the card's digit run hid the phone number behind it
    assert c.redact("4111111111111111+100000000") == "[CARD][PHONE]"
