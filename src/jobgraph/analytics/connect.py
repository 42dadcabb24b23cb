"""Amazon Connect contact records (CTRs) read into the canonical contact schema.

``read_amazon_connect(path, *, key)`` reads a file of contact records as Amazon Connect exports
them: a JSON array, JSON Lines (one record per line, what Kinesis Data Firehose writes to S3) or
records written back to back; gzip-compressed files are read as well. Every record ends in
exactly one place, as with the other readers: ``contacts``, ``quarantine`` (line where the record
starts, its JSON, a reason) or ``excluded`` (counted by reason).

The record fields are those of the documented data model:

- https://docs.aws.amazon.com/connect/latest/adminguide/ctr-data-model.html (the record)
- https://docs.aws.amazon.com/connect/latest/adminguide/contact-initiation-methods.html
- https://docs.aws.amazon.com/connect/latest/adminguide/transfers.html (a transfer opens a new
  record linked by ``PreviousContactId``)
- https://docs.aws.amazon.com/connect/latest/adminguide/identify-conferences-transfers.html
  (telling a transfer from a consult: who goes to after-contact work first)
- https://docs.aws.amazon.com/connect/latest/adminguide/connect-attrib-list.html (attributes)

Mapping (docs/amazon-connect.md gives the reasons):

- contact_id = ContactId; started_at = InitiationTimestamp; ended_at = DisconnectTimestamp;
- channel = Channel: VOICE -> phone, CHAT -> chat, TASK -> task, EMAIL -> email (any other value
  lower-cased);
- customer_id = keyed hash of CustomerEndpoint.Address (e-mail addresses lower-cased first; null
  when missing or withheld), or of the first configured customer attribute when one is set;
- queue = Queue.Name; agent_id = Agent.Username (kept as it is, like the Technion ``server``);
- reason, text (redacted), ces, csat, nps, goal_achieved = contact attributes
  (``ConnectAttributes``);
- wait_seconds = Queue.Duration, else DequeueTimestamp - EnqueueTimestamp;
- handle_seconds = Agent.AgentInteractionDuration + CustomerHoldDuration +
  AfterContactWorkDuration (average handle time), null without an agent;
- outcome, first that applies: escalated (escalation attribute true), transferred (transferred
  out of Connect, or handed on to a QUEUE_TRANSFER or CALLBACK leg, or to a TRANSFER leg whose
  agent stayed longer than this one; a NextContactId whose leg is in another file counts too),
  served (an agent), abandoned (queued, no agent), self_served (neither queue nor agent).

Records that are not a customer's contact are excluded and counted: later legs of a contact
(TRANSFER, QUEUE_TRANSFER, CALLBACK, DISCONNECT, AGENT_REPLY), so a transfer is never a repeat
contact; supervisor monitoring; third parties dialled in; flow-sent messages; and older or
repeated deliveries of the same ContactId (Connect delivers records at least once; the newest
``LastUpdateTimestamp`` wins).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobgraph.analytics.contacts import (
    _FALSE,
    _TRUE,
    QUARANTINE_COLUMNS,
    ContactOutcome,
    IngestResult,
    QuarantineReason,
    _check_key,
    _concat,
    _Frame,
    _normalise,
    _result,
)
from jobgraph.errors import UserError

__all__ = [
    "CONNECT_CHANNELS",
    "INITIATION_METHODS",
    "ConnectAttributes",
    "read_amazon_connect",
]

CONNECT_CHANNELS = {"VOICE": "phone", "CHAT": "chat", "TASK": "task", "EMAIL": "email"}

# InitiationMethod -> None (a customer's contact) or the reason it is excluded.
INITIATION_METHODS: Mapping[str, str | None] = {
    "INBOUND": None,
    "API": None,
    "WEBRTC_API": None,
    "OUTBOUND": None,
    "TRANSFER": "transfer leg",
    "QUEUE_TRANSFER": "transfer leg",
    "CALLBACK": "callback leg",
    "DISCONNECT": "disconnect flow",
    "AGENT_REPLY": "agent reply",
    "FLOW": "flow message",
    "EXTERNAL_OUTBOUND": "external participant",
    "MONITOR": "monitoring",
}
OUTBOUND_REASON = "outbound"
SUPERSEDED_REASON = "superseded delivery"
REPEATED_REASON = "repeated delivery"
# records that carry on the contact named by their PreviousContactId
_HAND_ON = frozenset({"TRANSFER", "QUEUE_TRANSFER", "CALLBACK"})
_WITHHELD = frozenset({"anonymous", "restricted", "private", "unavailable", "unknown"})
_AGENT_DURATIONS = ("AgentInteractionDuration", "CustomerHoldDuration", "AfterContactWorkDuration")
_OUTCOMES = {o.value: o.value for o in ContactOutcome}
_JSON_SPACE = " \t\r\n"
_ROW_COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "ended_at",
    "channel",
    "queue",
    "reason",
    "agent_id",
    "outcome",
    "wait_seconds",
    "handle_seconds",
    "text",
    "ces",
    "csat",
    "nps",
    "goal_achieved",
)


@dataclass(frozen=True)
class ConnectAttributes:
    """Which contact attributes (the ``Attributes`` string map that flows fill) carry which
    contact field. For each field the keys are tried in order and the first non-empty value
    wins; an empty tuple leaves the field null. Contact records do not carry the Lex intent
    themselves: save ``$.Lex.IntentName`` into one of the ``reason`` keys in the flow."""

    reason: tuple[str, ...] = ("reason", "ContactReason", "intent")
    text: tuple[str, ...] = ("summary",)
    escalated: tuple[str, ...] = ("escalated",)
    customer: tuple[str, ...] = ()
    ces: tuple[str, ...] = ("ces",)
    csat: tuple[str, ...] = ("csat",)
    nps: tuple[str, ...] = ("nps",)
    goal_achieved: tuple[str, ...] = ("goal_achieved",)


# --- reading the file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    """A decoded JSON value, the line it starts on and its text as written in the file."""

    line: int
    value: Any
    raw: str


class _LineCounter:
    """Line numbers of increasing offsets in ``text``, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_SPACE:
        pos += 1
    return pos


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file: {exc}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path}: looks gzip-compressed but cannot be unpacked: {exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"{path}:{line}: not UTF-8 text (byte {exc.start}); contact records are UTF-8 JSON"
        ) from None


def _scan_array(path: Path, text: str, pos: int) -> list[_Record]:
    """The elements of a JSON array starting at ``pos``, each with the line it starts on. A
    syntax error stops the read: past it the element boundaries cannot be trusted."""
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)
    records: list[_Record] = []
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        pos = _skip_space(text, pos + 1)
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}); "
                    "a JSON array cannot be read past the error: fix it, or export JSON Lines "
                    "so that a bad record is quarantined on its own"
                ) from None
            records.append(_Record(lines.at(pos), value, text[pos:end]))
            pos = _skip_space(text, end)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif text.startswith("]", pos):
                pos = _skip_space(text, pos + 1)
                break
            else:
                raise UserError(
                    f"{path}:{lines.at(pos)}: not valid JSON: expected ',' or ']' after the "
                    "record that starts on line "
                    f"{records[-1].line}"
                )
    if pos < len(text):
        raise UserError(f"{path}:{lines.at(pos)}: unexpected text after the closing ']'")
    return records


def _scan_stream(text: str, pos: int) -> tuple[list[_Record], list[tuple[int, str]]]:
    """JSON values one after another (JSON Lines, or records written back to back). A value
    that does not parse is kept with its line and the reading goes on at the next line."""
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)
    records: list[_Record] = []
    malformed: list[tuple[int, str]] = []
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            eol = text.find("\n", pos)
            end = len(text) if eol < 0 else eol
            malformed.append((lines.at(pos), text[pos:end].rstrip("\r")))
        else:
            records.append(_Record(lines.at(pos), value, text[pos:end]))
        pos = _skip_space(text, end)
    return records, malformed


def _load(path: Path) -> tuple[list[_Record], list[tuple[int, str]]]:
    text = _decode(path)
    pos = _skip_space(text, 0)
    if pos == len(text):
        raise UserError(f"{path}: the file is empty; expected Amazon Connect contact records")
    if text[pos] == "[":
        return _scan_array(path, text, pos), []
    if text[pos] == "{":
        return _scan_stream(text, pos)
    line = text.count("\n", 0, pos) + 1
    raise UserError(
        f"{path}:{line}: not Amazon Connect contact records: expected a JSON array ('[') or "
        f"JSON Lines (a '{{' per record), found {text[pos : pos + 20]!r}"
    )


# --- reading one record -----------------------------------------------------------------------


def _get(record: Mapping[str, Any], *path: str) -> Any:
    value: Any = record
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _text(value: Any) -> str | None:
    """A non-empty string, or a number written as one (attributes are strings by contract, but
    hand-made exports put numbers there)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _attribute(record: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    attributes = record.get("Attributes")
    if not isinstance(attributes, Mapping):
        return None
    for name in keys:
        value = _text(attributes.get(name))
        if value is not None:
            return value
    return None


def _stamp(value: Any) -> pd.Timestamp | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class _Problem(Exception):
    def __init__(self, reason: QuarantineReason, name: str, value: Any, what: str) -> None:
        super().__init__(what)
        self.reason = reason
        self.name = name
        self.value = value
        self.what = what


def _customer(record: Mapping[str, Any], attributes: ConnectAttributes) -> str | None:
    chosen = _attribute(record, attributes.customer)
    if chosen is not None:
        return chosen
    address = _text(_get(record, "CustomerEndpoint", "Address"))
    if address is None or address.lower() in _WITHHELD:
        return None
    return address.lower() if "@" in address else address


def _agent(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    agent = record.get("Agent")
    return agent if isinstance(agent, Mapping) and agent else None


def _agent_id(agent: Mapping[str, Any] | None) -> str | None:
    if agent is None:
        return None
    username = _text(agent.get("Username"))
    if username is not None:
        return username
    arn = _text(agent.get("ARN"))
    return arn.rsplit("/", 1)[-1] if arn else None


def _duration(value: Any, name: str) -> float | None:
    if value is None:
        return None
    seconds = _number(value)
    if seconds is None:
        raise _Problem(QuarantineReason.BAD_NUMBER, name, value, "is not a number")
    if seconds < 0:
        raise _Problem(QuarantineReason.NEGATIVE_DURATION, name, value, "is negative")
    return seconds


def _wait(queue: Mapping[str, Any] | None) -> float | None:
    if queue is None:
        return None
    seconds = _duration(queue.get("Duration"), "Queue.Duration")
    if seconds is not None:
        return seconds
    enqueued, dequeued = (
        _stamp(queue.get("EnqueueTimestamp")),
        _stamp(queue.get("DequeueTimestamp")),
    )
    if enqueued is None or dequeued is None:
        return None
    seconds = float((dequeued - enqueued).total_seconds())
    if seconds < 0:
        raise _Problem(
            QuarantineReason.NEGATIVE_DURATION,
            "Queue.DequeueTimestamp",
            queue.get("DequeueTimestamp"),
            "is before Queue.EnqueueTimestamp",
        )
    return seconds


def _handle(agent: Mapping[str, Any] | None) -> float | None:
    if agent is None:
        return None
    parts = [_duration(agent.get(name), f"Agent.{name}") for name in _AGENT_DURATIONS]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


class _Chains:
    """The later legs of each contact found in the same file (TRANSFER, QUEUE_TRANSFER and
    CALLBACK records naming it as their PreviousContactId)."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.method_of: dict[str, str | None] = {}
        self.legs: defaultdict[str, list[tuple[str, pd.Timestamp | None]]] = defaultdict(list)
        for record in records:
            contact_id = _text(record.get("ContactId"))
            method = _text(record.get("InitiationMethod"))
            if contact_id is not None:
                self.method_of.setdefault(contact_id, method)
            previous = _text(record.get("PreviousContactId"))
            if previous is not None and method in _HAND_ON:
                self.legs[previous].append((method, _after_contact_work(record)))

    def transferred(self, record: Mapping[str, Any]) -> bool:
        if record.get("TransferCompletedTimestamp") or record.get("TransferredToEndpoint"):
            return True
        legs = self.legs.get(_text(record.get("ContactId")) or "", [])
        if legs:
            # an agent who goes to after-contact work before the consulted agent has handed the
            # customer over; one who stays longer only consulted or conferenced
            left = _after_contact_work(record)
            return any(
                method != "TRANSFER" or left is None or other is None or left < other
                for method, other in legs
            )
        following = _text(record.get("NextContactId"))
        if following is None:
            return False
        # a next leg outside this file is taken for a transfer
        return following not in self.method_of or self.method_of[following] in _HAND_ON


def _after_contact_work(record: Mapping[str, Any]) -> pd.Timestamp | None:
    return _stamp(_get(record, "Agent", "AfterContactWorkStartTimestamp"))


def _outcome(
    record: Mapping[str, Any], chains: _Chains, attributes: ConnectAttributes
) -> ContactOutcome:
    flag = _attribute(record, attributes.escalated)
    if flag is not None:
        if flag.lower() in _TRUE:
            return ContactOutcome.ESCALATED
        if flag.lower() not in _FALSE:
            keys = "/".join(attributes.escalated)
            raise _Problem(
                QuarantineReason.BAD_VALUE, f"Attributes.{keys}", flag, "is not true/false"
            )
    if chains.transferred(record):
        return ContactOutcome.TRANSFERRED
    if _agent(record) is not None:
        return ContactOutcome.SERVED
    if isinstance(record.get("Queue"), Mapping):
        return ContactOutcome.ABANDONED
    return ContactOutcome.SELF_SERVED


def _row(
    record: Mapping[str, Any], chains: _Chains, attributes: ConnectAttributes
) -> dict[str, Any]:
    """The record as raw contact fields, for ``_normalise`` to type and check."""
    channel = _text(record.get("Channel"))
    if channel is None:
        raise _Problem(QuarantineReason.BAD_VALUE, "Channel", record.get("Channel"), "is missing")
    agent = _agent(record)
    queue = record.get("Queue") if isinstance(record.get("Queue"), Mapping) else None
    return {
        "contact_id": _text(record.get("ContactId")),
        "customer_id": _customer(record, attributes),
        "started_at": record.get("InitiationTimestamp"),
        "ended_at": record.get("DisconnectTimestamp"),
        "channel": CONNECT_CHANNELS.get(channel.upper(), channel.lower()),
        "queue": _text(_get(record, "Queue", "Name")),
        "reason": _attribute(record, attributes.reason),
        "agent_id": _agent_id(agent),
        "outcome": _outcome(record, chains, attributes).value,
        "wait_seconds": _wait(queue),
        "handle_seconds": _handle(agent),
        "text": _attribute(record, attributes.text),
        "ces": _attribute(record, attributes.ces),
        "csat": _attribute(record, attributes.csat),
        "nps": _attribute(record, attributes.nps),
        "goal_achieved": _attribute(record, attributes.goal_achieved),
    }


def _deliveries(records: list[_Record]) -> dict[int, str]:
    """Copies of a ContactId to leave out: those with an older ``LastUpdateTimestamp`` than the
    newest copy, and exact repeats. Differing copies with the same (or no) timestamp are left
    for the duplicate check."""
    by_id: defaultdict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        contact_id = _text(record.value.get("ContactId"))
        if contact_id is not None:
            by_id[contact_id].append(i)
    out: dict[int, str] = {}
    for indexes in by_id.values():
        if len(indexes) < 2:
            continue
        stamps = {i: _stamp(records[i].value.get("LastUpdateTimestamp")) for i in indexes}
        known = [s for s in stamps.values() if s is not None]
        newest = max(known) if known else None
        kept: set[str] = set()
        for i in indexes:
            stamp = stamps[i]
            same = json.dumps(records[i].value, sort_keys=True)
            if newest is not None and stamp is not None and stamp < newest:
                out[i] = SUPERSEDED_REASON
            elif same in kept:
                out[i] = REPEATED_REASON
            else:
                kept.add(same)
    return out


# --- the reader -------------------------------------------------------------------------------


def _quarantine_row(
    source: str, line: int, reason: QuarantineReason, detail: str, raw: str
) -> dict[str, object]:
    return {
        "source": source,
        "line": line,
        "reason": reason.value,
        "detail": f"{source}:{line}: {detail}",
        "raw": raw,
    }


def _field_names(attributes: ConnectAttributes) -> dict[str, str]:
    names = {
        "contact_id": "ContactId",
        "started_at": "InitiationTimestamp",
        "ended_at": "DisconnectTimestamp",
    }
    for name in ("ces", "csat", "nps", "goal_achieved"):
        names[name] = "Attributes." + "/".join(getattr(attributes, name))
    return names


def read_amazon_connect(
    path: Path,
    *,
    key: bytes,
    attributes: ConnectAttributes | None = None,
    outbound: bool = True,
) -> IngestResult:
    """Read a file of Amazon Connect contact records (JSON array, JSON Lines, optionally
    gzip-compressed) into the contact schema.

    ``attributes`` names the contact attributes that carry the reason, summary text, escalation
    flag and survey answers (``ConnectAttributes``). ``outbound=False`` excludes contacts an
    agent or a campaign placed (InitiationMethod OUTBOUND), counted as ``"outbound"``.
    """
    _check_key(key)
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: read its contact record files one by one")
    attributes = attributes or ConnectAttributes()
    source = path.name
    records, malformed = _load(path)
    rejected = [
        _quarantine_row(source, line, QuarantineReason.MALFORMED_ROW, "not valid JSON", text)
        for line, text in malformed
    ]
    objects = []
    for record in records:
        if isinstance(record.value, Mapping):
            objects.append(record)
        else:
            what = f"a JSON {type(record.value).__name__}, not a contact record object"
            rejected.append(
                _quarantine_row(
                    source, record.line, QuarantineReason.MALFORMED_ROW, what, record.raw
                )
            )
    copies = _deliveries(objects)
    chains = _Chains(r.value for r in objects)
    excluded: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    kept: list[_Record] = []
    for i, record in enumerate(objects):
        if i in copies:
            excluded[copies[i]] += 1
            continue
        method = _text(record.value.get("InitiationMethod"))
        if method is not None and method.upper() == "OUTBOUND" and not outbound:
            excluded[OUTBOUND_REASON] += 1
            continue
        if method is None or method.upper() not in INITIATION_METHODS:
            known = ", ".join(INITIATION_METHODS)
            detail = f"field 'InitiationMethod': {method!r} is not one of {known}"
            rejected.append(
                _quarantine_row(
                    source, record.line, QuarantineReason.UNKNOWN_OUTCOME, detail, record.raw
                )
            )
            continue
        left_out = INITIATION_METHODS[method.upper()]
        if left_out is not None:
            excluded[left_out] += 1
            continue
        try:
            rows.append(_row(record.value, chains, attributes))
        except _Problem as p:
            detail = f"field {p.name!r}: {p.value!r} {p.what}"
            rejected.append(_quarantine_row(source, record.line, p.reason, detail, record.raw))
            continue
        kept.append(record)

    frame = _Frame(
        pd.DataFrame(rows, columns=list(_ROW_COLUMNS), dtype=object),
        np.asarray([r.line for r in kept], dtype=np.int64),
        [r.raw for r in kept],
        source,
    )
    table, checked, _ = _normalise(frame, outcomes=_OUTCOMES, key=key, tz="UTC")
    for column, name in _field_names(attributes).items():
        checked["detail"] = checked["detail"].str.replace(
            f"column {column!r}", f"field {name!r}", regex=False
        )
    checked["detail"] = checked["detail"].str.replace(
        "is before started_at", "is before InitiationTimestamp", regex=False
    )
    quarantine = _concat(
        [
            pd.DataFrame(rejected, columns=list(QUARANTINE_COLUMNS)).astype({"line": "int64"}),
            checked,
        ]
    )
    counts = dict(sorted(excluded.items()))
    return _result(table, quarantine, counts, len(records) + len(malformed), source)
