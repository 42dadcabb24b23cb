from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jobgraph.analytics import contacts as c
from jobgraph.analytics.connect import ConnectAttributes, read_amazon_connect
from jobgraph.errors import UserError

KEY = b"test-key-0123456789abcdef"
OTHER_KEY = b"another-key-0123456789abcdef"
PHONE = "+447700900123"
ARN = "arn:aws:connect:eu-west-2:123456789012:instance/1d908e11"


def ctr(contact_id: str, **fields: Any) -> dict[str, Any]:
    """A contact record shaped like the documented data model: an inbound call that ended in
    the IVR, with the given fields replaced."""
    record: dict[str, Any] = {
        "AWSAccountId": "123456789012",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": None,
        "AgentConnectionAttempts": 0,
        "Attributes": {},
        "Channel": "VOICE",
        "ConnectedToSystemTimestamp": "2024-03-04T09:15:01Z",
        "ContactId": contact_id,
        "CustomerEndpoint": {"Address": "+447700900999", "Type": "TELEPHONE_NUMBER"},
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "DisconnectTimestamp": "2024-03-04T09:20:00Z",
        "InitialContactId": None,
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2024-03-04T09:15:00Z",
        "InstanceARN": ARN,
        "LastUpdateTimestamp": "2024-03-04T09:21:00Z",
        "MediaStreams": [{"Type": "AUDIO"}],
        "NextContactId": None,
        "PreviousContactId": None,
        "Queue": None,
        "Recording": None,
        "SystemEndpoint": {"Address": "+442079460000", "Type": "TELEPHONE_NUMBER"},
        "TransferCompletedTimestamp": None,
        "TransferredToEndpoint": None,
    }
    record.update(fields)
    return record


def agent(
    username: str, talk: int, hold: int = 0, acw: int = 0, acw_start: str = "2024-03-04T09:19:00Z"
) -> dict[str, Any]:
    return {
        "ARN": f"{ARN}/agent/{username}-uuid",
        "AfterContactWorkDuration": acw,
        "AfterContactWorkStartTimestamp": acw_start,
        "AgentInteractionDuration": talk,
        "ConnectedToAgentTimestamp": "2024-03-04T09:16:00Z",
        "CustomerHoldDuration": hold,
        "Username": username,
    }


def queue(name: str, duration: int | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {
        "ARN": f"{ARN}/queue/{name.lower()}",
        "EnqueueTimestamp": "2024-03-04T09:15:20Z",
        "DequeueTimestamp": "2024-03-04T09:16:00Z",
        "Name": name,
    }
    if duration is not None:
        q["Duration"] = duration
    return q


SUMMARY = "Customer jane.doe@example.com paid with 4111 1111 1111 1111, refund agreed"
V1 = ctr(
    "V1",
    CustomerEndpoint={"Address": PHONE, "Type": "TELEPHONE_NUMBER"},
    Queue=queue("Billing", duration=42),
    Agent=agent("amira.k", talk=300, hold=20, acw=40),
    AgentConnectionAttempts=1,
    Attributes={
        "reason": "billing dispute",
        "summary": SUMMARY,
        "csat": "4",
        "goal_achieved": "yes",
    },
)
C1_OLD = ctr(
    "C1",
    Channel="CHAT",
    InitiationMethod="API",
    CustomerEndpoint=None,
    Queue=queue("Chat", duration=15),
    Agent=agent("li.w", talk=600),
    MediaStreams=[{"Type": "CHAT"}],
)
C1_NEW = {**C1_OLD, "Attributes": {"csat": "5"}, "LastUpdateTimestamp": "2024-03-05T08:00:00Z"}
# DequeueTimestamp - EnqueueTimestamp = 40 s when Duration is missing
A1 = ctr("A1", Queue=queue("Billing"), CustomerEndpoint={"Address": "+447700900456"})
S1 = ctr(
    "S1",
    CustomerEndpoint={"Address": PHONE, "Type": "TELEPHONE_NUMBER"},
    Attributes={"intent": "CheckBalance"},
    InitiationTimestamp="2024-03-06T10:00:00Z",
    DisconnectTimestamp="2024-03-06T10:02:00Z",
)
# amira.k leaves (after-contact work) before bo.n: a transfer
T1 = ctr(
    "T1",
    Queue=queue("Sales", 5),
    Agent=agent("amira.k", talk=60, acw_start="2024-03-04T09:17:30Z"),
    NextContactId="T2",
)
T2 = ctr(
    "T2",
    InitiationMethod="TRANSFER",
    PreviousContactId="T1",
    InitialContactId="T1",
    InitiationTimestamp="2024-03-04T09:17:00Z",
    Queue=queue("Retention", 30),
    Agent=agent("bo.n", talk=200, acw_start="2024-03-04T09:25:00Z"),
)
M1 = ctr("M1", InitiationMethod="MONITOR", Agent=agent("supervisor.s", talk=120))
B1 = ctr("B1", InitiationTimestamp="yesterday")
N1 = ctr("N1", DisconnectTimestamp="2024-03-04T09:00:00Z")
V1_CONFLICT = {**V1, "Attributes": {"reason": "something else"}}
MALFORMED = '{"ContactId": "broken", "Channel": "VOICE",'
E1 = ctr(
    "E1", Queue=queue("Billing", 10), Agent=agent("li.w", 90), Attributes={"escalated": "TRUE"}
)
Q1 = ctr("Q1", Queue=queue("Billing", 300))
CB1 = ctr(
    "CB1",
    InitiationMethod="CALLBACK",
    PreviousContactId="Q1",
    Queue=queue("Billing", 100),
    Agent=agent("bo.n", 100),
)
U1 = ctr("U1", InitiationMethod="TELEPORT")
# the consulted agent (bo.n) leaves first: li.w only consulted and kept the customer
K1 = ctr(
    "K1",
    Queue=queue("Billing", 8),
    Agent=agent("li.w", 400, acw_start="2024-03-04T09:30:00Z"),
    NextContactId="K2",
)
K2 = ctr(
    "K2",
    InitiationMethod="TRANSFER",
    PreviousContactId="K1",
    InitiationTimestamp="2024-03-04T09:18:00Z",
    Agent=agent("bo.n", 60, acw_start="2024-03-04T09:20:00Z"),
)
O1 = ctr("O1", InitiationMethod="OUTBOUND", Queue=queue("Outbound", 0), Agent=agent("li.w", 50))

# each record, or a malformed line, with its line in the JSON Lines file and where it ends up
FIXTURE: list[dict[str, Any] | str] = [
    V1,  # 1 accepted, served
    C1_OLD,  # 2 excluded: superseded by line 12
    A1,  # 3 accepted, abandoned
    S1,  # 4 accepted, self_served
    T1,  # 5 accepted, transferred (handed on to T2)
    T2,  # 6 excluded: transfer leg
    M1,  # 7 excluded: monitoring
    B1,  # 8 quarantined: bad timestamp
    N1,  # 9 quarantined: negative duration
    V1_CONFLICT,  # 10 quarantined: duplicate contact id
    MALFORMED,  # 11 quarantined: malformed row
    C1_NEW,  # 12 accepted, served
    E1,  # 13 accepted, escalated
    Q1,  # 14 accepted, transferred (to the callback)
    CB1,  # 15 excluded: callback leg
    U1,  # 16 quarantined: unknown outcome
    O1,  # 17 accepted, served (outbound counts by default)
    K1,  # 18 accepted, served (consulted, not transferred)
    K2,  # 19 excluded: transfer leg (a consult)
]
EXPECTED_QUARANTINE = [
    (8, "bad timestamp"),
    (9, "negative duration"),
    (10, "duplicate contact id"),
    (11, "malformed row"),
    (16, "unknown outcome"),
]
EXPECTED_EXCLUDED = {
    "callback leg": 1,
    "monitoring": 1,
    "superseded delivery": 1,
    "transfer leg": 2,
}


def write_jsonl(path: Path, items: list[dict[str, Any] | str]) -> Path:
    lines = [item if isinstance(item, str) else json.dumps(item) for item in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_array(path: Path, records: list[dict[str, Any]]) -> list[int]:
    """Pretty-printed JSON array; returns the line each element starts on."""
    chunks = [json.dumps(r, indent=2) for r in records]
    starts, line = [], 2
    for chunk in chunks:
        starts.append(line)
        line += chunk.count("\n") + 1
    path.write_text("[\n" + ",\n".join(chunks) + "\n]\n", encoding="utf-8")
    return starts


@pytest.fixture
def jsonl(tmp_path: Path) -> c.IngestResult:
    return read_amazon_connect(write_jsonl(tmp_path / "ctr.jsonl", FIXTURE), key=KEY)


def by_id(result: c.IngestResult) -> pd.DataFrame:
    return result.contacts.to_pandas().set_index("contact_id")


def test_every_record_lands_in_one_place(jsonl: c.IngestResult) -> None:
    assert jsonl.counts == c.IngestCounts(read=19, accepted=9, quarantined=5, excluded=5)
    assert jsonl.excluded == EXPECTED_EXCLUDED
    assert list(zip(jsonl.quarantine["line"], jsonl.quarantine["reason"], strict=True)) == (
        EXPECTED_QUARANTINE
    )
    assert jsonl.contacts.schema == c.CONTACT_SCHEMA
    assert sorted(by_id(jsonl).index) == ["A1", "C1", "E1", "K1", "O1", "Q1", "S1", "T1", "V1"]


def test_outcomes(jsonl: c.IngestResult) -> None:
    assert by_id(jsonl)["outcome"].to_dict() == {
        "V1": "served",
        "A1": "abandoned",
        "S1": "self_served",
        "T1": "transferred",
        "C1": "served",
        "E1": "escalated",
        "Q1": "transferred",
        "O1": "served",
        "K1": "served",
    }


def test_served_voice_call_field_by_field(jsonl: c.IngestResult) -> None:
    v1 = by_id(jsonl).loc["V1"]
    assert v1["started_at"] == pd.Timestamp("2024-03-04 09:15:00", tz="UTC")
    assert v1["ended_at"] == pd.Timestamp("2024-03-04 09:20:00", tz="UTC")
    assert (v1["channel"], v1["queue"], v1["agent_id"]) == ("phone", "Billing", "amira.k")
    assert v1["reason"] == "billing dispute"
    assert (v1["wait_seconds"], v1["handle_seconds"]) == (42, 300 + 20 + 40)
    assert (v1["csat"], v1["goal_achieved"]) == (4.0, True)
    assert pd.isna(v1["ces"]) and pd.isna(v1["nps"]) and pd.isna(v1["persona_id"])
    assert (v1["source"], v1["month"]) == ("ctr.jsonl", "2024-03")


def test_other_fields(jsonl: c.IngestResult) -> None:
    df = by_id(jsonl)
    c1, a1, s1 = df.loc["C1"], df.loc["A1"], df.loc["S1"]
    assert (c1["channel"], c1["csat"]) == ("chat", 5.0)  # the newest copy
    assert pd.isna(c1["customer_id"])  # a chat without a customer endpoint
    assert a1["wait_seconds"] == 40  # Dequeue - Enqueue when Duration is missing
    assert pd.isna(a1["handle_seconds"]) and pd.isna(a1["agent_id"])
    assert s1["reason"] == "CheckBalance" and pd.isna(s1["queue"])
    assert pd.isna(s1["wait_seconds"]) and pd.isna(s1["handle_seconds"])


def test_customer_ids_are_pseudonymised(jsonl: c.IngestResult, tmp_path: Path) -> None:
    df = by_id(jsonl)
    assert df.loc["V1", "customer_id"] == c.pseudonymise(PHONE, KEY)
    assert df.loc["V1", "customer_id"] == df.loc["S1", "customer_id"]  # same caller
    assert df.loc["A1", "customer_id"] != df.loc["V1", "customer_id"]
    flat = [str(v) for v in df.reset_index().to_numpy().ravel()]
    assert not any(PHONE in value or "+447700900456" in value for value in flat)
    other = read_amazon_connect(tmp_path / "ctr.jsonl", key=OTHER_KEY)
    assert by_id(other).loc["V1", "customer_id"] not in (df.loc["V1", "customer_id"], PHONE)


def test_summary_text_is_redacted(jsonl: c.IngestResult) -> None:
    assert by_id(jsonl).loc["V1", "text"] == "Customer [EMAIL] paid with [CARD], refund agreed"


def test_quarantine_keeps_the_raw_record_and_says_why(jsonl: c.IngestResult) -> None:
    q = jsonl.quarantine.set_index("line")
    assert json.loads(q.loc[8, "raw"])["ContactId"] == "B1"
    assert q.loc[8, "detail"].startswith("ctr.jsonl:8: field 'InitiationTimestamp': 'yesterday'")
    assert q.loc[9, "detail"] == (
        "ctr.jsonl:9: field 'DisconnectTimestamp': '2024-03-04T09:00:00Z' "
        "is before InitiationTimestamp"
    )
    assert json.loads(q.loc[10, "raw"])["Attributes"] == {"reason": "something else"}
    assert q.loc[11, "raw"] == MALFORMED
    assert "TELEPORT" in q.loc[16, "detail"]


def test_json_array_gives_the_same_contacts(jsonl: c.IngestResult, tmp_path: Path) -> None:
    records = [item for item in FIXTURE if isinstance(item, dict)]
    starts = write_array(tmp_path / "ctr.json", records)
    result = read_amazon_connect(tmp_path / "ctr.json", key=KEY)
    assert result.counts == c.IngestCounts(read=18, accepted=9, quarantined=4, excluded=5)
    assert result.excluded == EXPECTED_EXCLUDED
    reasons = [
        (B1, "bad timestamp"),
        (N1, "negative duration"),
        (V1_CONFLICT, "duplicate contact id"),
        (U1, "unknown outcome"),
    ]
    expected = [(starts[records.index(r)], why) for r, why in reasons]
    assert list(zip(result.quarantine["line"], result.quarantine["reason"], strict=True)) == (
        expected
    )
    same = result.contacts.drop_columns(["source"])
    assert same.sort_by("contact_id").equals(
        jsonl.contacts.drop_columns(["source"]).sort_by("contact_id")
    )


def test_gzip_and_back_to_back_records(jsonl: c.IngestResult, tmp_path: Path) -> None:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in FIXTURE) + "\n"
    (tmp_path / "ctr.gz").write_bytes(gzip.compress(text.encode()))
    zipped = read_amazon_connect(tmp_path / "ctr.gz", key=KEY)
    assert zipped.counts == jsonl.counts
    records = [x for x in FIXTURE if isinstance(x, dict)]
    (tmp_path / "glued").write_text("".join(json.dumps(r) for r in records))
    glued = read_amazon_connect(tmp_path / "glued", key=KEY)
    assert (glued.counts.read, glued.counts.accepted) == (18, 9)
    assert set(glued.quarantine["line"]) == {1}


def test_outbound_can_be_excluded(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ctr.jsonl", FIXTURE)
    result = read_amazon_connect(path, key=KEY, outbound=False)
    assert result.counts.accepted == 8 and result.excluded["outbound"] == 1


def test_repeated_delivery_and_configured_attributes(tmp_path: Path) -> None:
    record = ctr("R1", Attributes={"Topic": "moving house", "CrmId": "CUST-7", "Escalate": "maybe"})
    fine = ctr("R2", Attributes={"Topic": "new card", "CrmId": "CUST-7"})
    path = write_jsonl(tmp_path / "ctr.jsonl", [fine, fine, record])
    names = ConnectAttributes(reason=("Topic",), customer=("CrmId",), escalated=("Escalate",))
    result = read_amazon_connect(path, key=KEY, attributes=names)
    assert result.excluded == {"repeated delivery": 1}
    row = by_id(result).loc["R2"]
    assert (row["reason"], row["customer_id"]) == ("new card", c.pseudonymise("CUST-7", KEY))
    q = result.quarantine.iloc[0]
    assert (q["line"], q["reason"]) == (3, "bad value") and "Escalate" in q["detail"]


def test_store_round_trip_is_idempotent(jsonl: c.IngestResult, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = c.write_contacts(jsonl.contacts, store)
    assert (first.added, first.already_present, first.months) == (9, 0, ("2024-03",))
    again = c.write_contacts(jsonl.contacts, store)
    assert (again.added, again.already_present) == (0, 9)
    assert c.read_contacts(store).num_rows == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ContactId,Channel\nV1,VOICE\n", r"ctr\.data:1: not Amazon Connect contact records"),
        (b'{"ContactId": "a"}\n{"ContactId": "b"}\n{"x": "\xff"}\n', r"ctr\.data:3: not UTF-8"),
        (b'[\n{"ContactId": "a"},\n{"ContactId": }\n]', r"ctr\.data:3: not valid JSON"),
        (b"  \n", r"ctr\.data: the file is empty"),
    ],
)
def test_unreadable_files_are_refused_with_file_and_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "ctr.data").write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_amazon_connect(tmp_path / "ctr.data", key=KEY)


def test_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="16 random bytes"):
        read_amazon_connect(tmp_path / "x.json", key=b"short")
