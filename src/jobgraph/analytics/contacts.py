"""Contact-centre logs: one canonical contact schema, readers that map exports onto it, and a
month-partitioned Parquet store.

- ``read_technion`` reads the Technion SEE Center "Anonymous Bank" log (October 1999);
- ``read_generic`` reads any CSV or Parquet export through a TOML column mapping
  (``ContactMapping``).

Every input row ends in exactly one place: ``contacts`` (accepted), ``quarantine`` (rejected, with
its file line, raw values and reason) or ``excluded`` (deliberately left out, counted by reason).
Customer ids are pseudonymised with a keyed hash and free text is redacted before anything is
kept. ``write_contacts`` is idempotent on ``contact_id`` and leaves the folder as it was when it
fails.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobgraph.errors import UserError

__all__ = [
    "CONTACT_SCHEMA",
    "ContactMapping",
    "ContactOutcome",
    "IngestCounts",
    "IngestResult",
    "QuarantineReason",
    "WriteReport",
    "pseudonymise",
    "read_contacts",
    "read_generic",
    "read_technion",
    "redact",
    "write_contacts",
]

CONTACT_SCHEMA = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("ended_at", pa.timestamp("us", tz="UTC")),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("queue", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("agent_id", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("wait_seconds", pa.float64()),
        pa.field("handle_seconds", pa.float64()),
        pa.field("text", pa.string()),
        pa.field("ces", pa.float64()),
        pa.field("csat", pa.float64()),
        pa.field("nps", pa.float64()),
        pa.field("goal_achieved", pa.bool_()),
        pa.field("persona_id", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("month", pa.string(), nullable=False),
    ]
)
FIELDS = tuple(CONTACT_SCHEMA.names)
QUARANTINE_COLUMNS = ("source", "line", "reason", "detail", "raw")
_STRING_FIELDS = ("channel", "queue", "reason", "agent_id", "text", "persona_id")
_NUMBER_FIELDS = ("wait_seconds", "handle_seconds", "ces", "csat", "nps")
_DURATIONS = ("wait_seconds", "handle_seconds")
PSEUDONYM_LENGTH = 24


class ContactOutcome(StrEnum):
    SERVED = "served"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"
    SELF_SERVED = "self_served"


# An outcome mapping value that leaves the row out (counted in ``excluded``) instead of
# accepting or quarantining it.
EXCLUDE = "excluded"


class QuarantineReason(StrEnum):
    MALFORMED_ROW = "malformed row"
    MISSING_CONTACT_ID = "missing contact id"
    BAD_TIMESTAMP = "bad timestamp"
    UNKNOWN_OUTCOME = "unknown outcome"
    BAD_NUMBER = "bad number"
    BAD_VALUE = "bad value"
    NEGATIVE_DURATION = "negative duration"
    DUPLICATE_CONTACT_ID = "duplicate contact id"


@dataclass(frozen=True, slots=True)
class IngestCounts:
    read: int
    accepted: int
    quarantined: int
    excluded: int


@dataclass(frozen=True)
class IngestResult:
    """What one file gave: accepted contacts, rejected rows and rows left out on purpose."""

    contacts: pa.Table
    quarantine: pd.DataFrame
    excluded: dict[str, int]
    counts: IngestCounts
    source: str

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{self.source}: {c.read} read, {c.accepted} accepted, {c.quarantined} quarantined, "
            f"{c.excluded} excluded"
        )
        if len(self.quarantine):
            by = self.quarantine["reason"].value_counts().sort_index()
            text += "\n  quarantined: " + ", ".join(f"{r} {n}" for r, n in by.items())
        if self.excluded:
            text += "\n  excluded: " + ", ".join(f"{r} {n}" for r, n in self.excluded.items())
        return text


# --- privacy ----------------------------------------------------------------------------------


def pseudonymise(value: str, key: bytes) -> str:
    """The keyed hash that stands for a customer id: HMAC-SHA256, hex, first 24 characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_LENGTH]


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < 16:
        raise UserError(
            "the pseudonymisation key must be at least 16 random bytes "
            "(e.g. secrets.token_bytes(32)), kept apart from the data"
        )


# e-mail addresses, e.g. "jane.doe+cc@example.co.uk"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# IBAN candidates: country, check digits, 11-30 more characters, optionally grouped by four,
# e.g. "GB82WEST12345698765432" or "GB82 WEST 1234 5698 7654 32"
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
# a run of digits joined by at most two separators between digits, with an optional leading
# "+" or "(", standing alone (no letter or digit glued to either end; possessive, so a run is
# never cut short to make it stand alone), e.g. "+44 (0)20 7946 0958", "4111-1111-1111-1111",
# "555.123.4567", "2024-03-01"; not the digits in "WEST1234" or "12345abc"
_DIGIT_RUN = re.compile(r"(?<!\w)[+(]?\d(?:[ ().\-]{1,2}\d|\d)*+(?!\w)")
# a calendar date inside a run, kept rather than taken for a phone number, e.g. "2024-03-01"
_DATE = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d")
# card numbers may only be grouped by spaces or dashes, e.g. "4111 1111 1111 1111"
_CARD_SHAPE = re.compile(r"\d(?:[ \-]?\d)*")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _iban(m: re.Match[str]) -> str:
    text = m[0]
    # the pattern may have swallowed trailing groups of ordinary text: try shorter prefixes
    for end in range(len(text), 14, -1):
        if (end == len(text) or text[end] == " ") and _iban_ok(text[:end]):
            return "[IBAN]" + text[end:]
    return text


def _number(m: re.Match[str]) -> str:
    run = m[0]
    digits = re.sub(r"\D", "", run)  # every non-digit, e.g. the spaces in "4111 1111"
    if 13 <= len(digits) <= 19 and _CARD_SHAPE.fullmatch(run) and _luhn_ok(digits):
        return "[CARD]"
    has_separator = len(digits) + (run[0] in "+(") < len(run)
    looks_like_phone = run[0] in "+(0" or has_separator
    if 9 <= len(digits) <= 15 and looks_like_phone and not _DATE.search(run):
        return "[PHONE]"
    return run


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IBANs (mod-97 checked), payment-card numbers
    (13-19 digits, Luhn checked) and phone numbers replaced by ``[EMAIL]``, ``[IBAN]``,
    ``[CARD]`` and ``[PHONE]``. Digits that are none of these are kept as they are.

    Redacting is repeated until nothing changes, so redacting twice is redacting once: taking
    out a card can free a phone number glued to it ("4111...1111+100000000").
    """
    while (again := _redact_once(text)) != text:
        text = again
    return text


def _redact_once(text: str) -> str:
    text = _EMAIL.sub("[EMAIL]", text)
    # a redacted IBAN can uncover another one in the groups the pattern swallowed after it
    while (again := _IBAN.sub(_iban, text)) != text:
        text = again
    return _DIGIT_RUN.sub(_number, text)


# --- mapping ----------------------------------------------------------------------------------

_MAPPABLE = tuple(f for f in FIELDS if f not in ("source", "month"))
_REQUIRED = ("contact_id", "started_at", "outcome")


@dataclass(frozen=True)
class ContactMapping:
    """How the columns of a generic export map onto the contact schema.

    ``columns``: schema field -> file column; ``outcomes``: file value -> outcome (or
    ``"excluded"``); ``defaults``: schema field -> constant for fields the file lacks (e.g.
    ``channel = "chat"``); ``timestamp_format``: a strftime format, or ISO 8601 when not given;
    ``timezone``: the zone of timestamps written without an offset.
    """

    columns: Mapping[str, str]
    outcomes: Mapping[str, str]
    defaults: Mapping[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise UserError("contact mapping: " + "; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        for name in [*self.columns, *self.defaults]:
            if name not in _MAPPABLE:
                out.append(f"{name!r} is not a contact field; fields: {', '.join(_MAPPABLE)}")
        for name in _REQUIRED:
            if name not in self.columns:
                out.append(f'[columns] needs {name} = "<column in the file>"')
        if "channel" not in self.columns and "channel" not in self.defaults:
            out.append('set channel in [columns] or in [defaults] (e.g. channel = "chat")')
        allowed = {o.value for o in ContactOutcome} | {EXCLUDE}
        for raw, target in self.outcomes.items():
            if target not in allowed:
                out.append(
                    f"[outcomes] {raw!r} = {target!r}: use one of {', '.join(sorted(allowed))}"
                )
        try:
            pd.Timestamp("2000-01-01").tz_localize(self.timezone)
        except Exception:
            out.append(f"timezone {self.timezone!r} is not a known IANA zone (e.g. Europe/Paris)")
        return out

    @classmethod
    def read(cls, path: Path) -> ContactMapping:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{path}: cannot read the contact mapping: {exc}") from exc

        def table(name: str) -> dict[str, str]:
            value = data.get(name) or {}
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise UserError(f'{path}: [{name}] must hold "name" = "text" pairs')
            return {str(k): str(v) for k, v in value.items()}

        fmt = data.get("timestamp_format")
        try:
            return cls(
                columns=table("columns"),
                outcomes=table("outcomes"),
                defaults=table("defaults"),
                timestamp_format=str(fmt) if fmt is not None else None,
                timezone=str(data.get("timezone", "UTC")),
            )
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None


# --- the shared pipeline ----------------------------------------------------------------------


@dataclass
class _Frame:
    """Rows on their way into the schema: canonical columns (raw or already typed), the file
    line of each row and its raw values as JSON text."""

    data: pd.DataFrame
    lines: np.ndarray[Any, Any]
    raw: list[str]
    source: str


def _blank(s: pd.Series) -> pd.Series:
    text = s.astype("string").str.strip()
    return s.isna() | (text == "")


def _parse_times(s: pd.Series, fmt: str | None, tz: str) -> pd.Series:
    """UTC timestamps; NaT where a value is missing, unreadable or does not exist in ``tz``."""
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        text = s.astype("string").str.strip()
        try:
            s = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
        except (ValueError, TypeError):
            s = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    if s.dt.tz is None:
        s = s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def _parse_numbers(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    return pd.to_numeric(s.astype("string").str.strip(), errors="coerce").astype("float64")


_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def _parse_bools(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False)] = True
    out[text.isin(_FALSE).fillna(False)] = False
    bad = ~_blank(s) & out.isna()
    return out, bad


def _normalise(
    frame: _Frame,
    *,
    outcomes: Mapping[str, str],
    key: bytes,
    tz: str,
    timestamp_format: str | None = None,
    redact_text: bool = True,
) -> tuple[pa.Table, pd.DataFrame, dict[str, int]]:
    df = frame.data.reset_index(drop=True)
    n = len(df)
    get = {name: df[name] if name in df else pd.Series([None] * n, dtype=object) for name in FIELDS}

    # exclusion first: an excluded row is left out whatever else is wrong with it
    raw_outcome = get["outcome"].astype("string").str.strip()
    outcome = raw_outcome.map(lambda v: outcomes.get(v) if isinstance(v, str) else None)
    excluded_mask = (outcome == EXCLUDE).fillna(False).to_numpy(dtype=bool)
    excluded: dict[str, int] = {}
    if excluded_mask.any():
        for value, count in raw_outcome[excluded_mask].value_counts().sort_index().items():
            excluded[f"outcome {value}"] = int(count)

    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def flag(mask: Any, why: QuarantineReason, column: str, what: str) -> None:
        m = np.asarray(mask, dtype=bool) & ~excluded_mask & pd.isna(reason)
        if not m.any():
            return
        values = get[column] if column in get else pd.Series([None] * n)
        for i in np.flatnonzero(m):
            reason[i] = why.value
            detail[i] = (
                f"{frame.source}:{frame.lines[i]}: column {column!r}: {values.iloc[i]!r} {what}"
            )

    contact_id = get["contact_id"].astype("string").str.strip()
    flag(_blank(get["contact_id"]), QuarantineReason.MISSING_CONTACT_ID, "contact_id", "is empty")

    started = _parse_times(get["started_at"], timestamp_format, tz)
    flag(started.isna(), QuarantineReason.BAD_TIMESTAMP, "started_at", "is not a timestamp")
    ended = _parse_times(get["ended_at"], timestamp_format, tz)
    flag(
        ended.isna() & ~_blank(get["ended_at"]),
        QuarantineReason.BAD_TIMESTAMP,
        "ended_at",
        "is not a timestamp",
    )
    flag(
        outcome.isna(),
        QuarantineReason.UNKNOWN_OUTCOME,
        "outcome",
        f"is not in the outcome mapping ({', '.join(sorted(outcomes))})",
    )
    numbers = {}
    for name in _NUMBER_FIELDS:
        numbers[name] = _parse_numbers(get[name])
        flag(
            numbers[name].isna() & ~_blank(get[name]),
            QuarantineReason.BAD_NUMBER,
            name,
            "is not a number",
        )
    goal, bad_goal = _parse_bools(get["goal_achieved"])
    flag(bad_goal, QuarantineReason.BAD_VALUE, "goal_achieved", "is not yes/no or true/false")
    for name in _DURATIONS:
        flag(
            (numbers[name] < 0).fillna(False),
            QuarantineReason.NEGATIVE_DURATION,
            name,
            "is negative",
        )
    flag(
        (ended < started).fillna(False),
        QuarantineReason.NEGATIVE_DURATION,
        "ended_at",
        "is before started_at",
    )
    # the first good row with an id wins; later ones are quarantined
    good = pd.isna(reason) & ~excluded_mask
    dup = np.zeros(n, dtype=bool)
    dup[good] = contact_id[good].duplicated(keep="first").to_numpy(dtype=bool)
    flag(dup, QuarantineReason.DUPLICATE_CONTACT_ID, "contact_id", "appeared on an earlier line")

    keep = pd.isna(reason) & ~excluded_mask
    rejected = ~pd.isna(reason)
    quarantine = pd.DataFrame(
        {
            "source": frame.source,
            "line": frame.lines[rejected].astype("int64"),
            "reason": reason[rejected].astype(str),
            "detail": detail[rejected].astype(str),
            "raw": [frame.raw[i] for i in np.flatnonzero(rejected)],
        },
        columns=list(QUARANTINE_COLUMNS),
    )

    customer = get["customer_id"].astype("string").str.strip()[keep]
    customer = customer.mask(customer == "")
    hashes = {v: pseudonymise(v, key) for v in customer.dropna().unique()}
    text = get["text"].astype("string")[keep]
    if redact_text:
        text = text.map(lambda v: redact(v) if isinstance(v, str) else v)

    def strings(name: str) -> pa.Array:
        s = get[name].astype("string").str.strip()[keep]
        return pa.array(s.mask(s == ""), type=pa.string(), from_pandas=True)

    kept_started = started[keep]
    columns = {
        "contact_id": pa.array(contact_id[keep], type=pa.string(), from_pandas=True),
        "customer_id": pa.array(customer.map(hashes), type=pa.string(), from_pandas=True),
        "started_at": _utc(kept_started),
        "ended_at": _utc(ended[keep]),
        "outcome": pa.array(outcome[keep], type=pa.string(), from_pandas=True),
        "text": pa.array(text, type=pa.string(), from_pandas=True),
        "goal_achieved": pa.array(goal[keep], type=pa.bool_(), from_pandas=True),
        "source": pa.array([frame.source] * int(keep.sum()), type=pa.string()),
        "month": pa.array(kept_started.dt.strftime("%Y-%m"), type=pa.string()),
    }
    for name in ("channel", "queue", "reason", "agent_id", "persona_id"):
        columns[name] = strings(name)
    for name in _NUMBER_FIELDS:
        columns[name] = pa.array(numbers[name][keep], type=pa.float64(), from_pandas=True)
    table = pa.table([columns[f] for f in FIELDS], schema=CONTACT_SCHEMA)
    return table, quarantine, excluded


def _utc(s: pd.Series) -> pa.Array:
    micros = s.dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    return pa.array(micros, mask=s.isna().to_numpy()).cast(pa.timestamp("us", tz="UTC"))


def _result(
    table: pa.Table,
    quarantine: pd.DataFrame,
    excluded: dict[str, int],
    read: int,
    source: str,
) -> IngestResult:
    counts = IngestCounts(
        read=read,
        accepted=table.num_rows,
        quarantined=len(quarantine),
        excluded=sum(excluded.values()),
    )
    if counts.accepted + counts.quarantined + counts.excluded != read:
        raise AssertionError(f"{source}: rows lost on the way: {counts}")
    quarantine = quarantine.sort_values("line", kind="stable").reset_index(drop=True)
    return IngestResult(table, quarantine, excluded, counts, source)


def _scan_csv(
    path: Path, delimiter: str
) -> tuple[list[str], list[list[str]], list[int], list[tuple[int, list[str]]]]:
    """Header, well-formed records with the line each starts on, and malformed records."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the file: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[tuple[int, list[str]]] = []
    try:
        header = next(reader)
        start = reader.line_num + 1
        for row in reader:
            if len(row) == len(header):
                rows.append(row)
                lines.append(start)
            elif row:
                bad.append((start, row))
            start = reader.line_num + 1
    except StopIteration:
        raise UserError(f"{path}: the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not a readable CSV file ({exc})") from None
    return header, rows, lines, bad


def _malformed(
    source: str, header: list[str], bad: Iterable[tuple[int, list[str]]]
) -> pd.DataFrame:
    rows = [
        {
            "source": source,
            "line": line,
            "reason": QuarantineReason.MALFORMED_ROW.value,
            "detail": f"{source}:{line}: {len(row)} fields, but the header has {len(header)}",
            "raw": json.dumps(row, ensure_ascii=False),
        }
        for line, row in bad
    ]
    return pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS)).astype({"line": "int64"})


def _raw_json(header: list[str], rows: list[list[str]]) -> list[str]:
    return [json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False) for row in rows]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS}).astype(
            {"line": "int64"}
        )
    return pd.concat(frames, ignore_index=True)


# --- Technion ---------------------------------------------------------------------------------

TECHNION_COLUMNS = (
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)
TECHNION_OUTCOMES = {"AGENT": "served", "HANG": "abandoned", "PHANTOM": EXCLUDE}
PHANTOM_REASON = "phantom call"


def read_technion(path: Path, *, key: bytes, tz: str = "Asia/Jerusalem") -> IngestResult:
    """Read the Technion "Anonymous Bank" call log (tab-separated, one row per call).

    Clock times are local to ``tz`` (the bank is in Israel) and stored in UTC; pass
    ``tz="UTC"`` to keep the wall-clock times unchanged. PHANTOM calls are excluded and counted
    as ``"phantom call"``.
    """
    _check_key(key)
    path = Path(path)
    header, rows, lines, bad = _scan_csv(path, "\t")
    source = path.name
    if tuple(header) != TECHNION_COLUMNS:
        missing = [c for c in TECHNION_COLUMNS if c not in header]
        raise UserError(
            f"{path}:1: not a Technion call log: expected the columns "
            f"{', '.join(TECHNION_COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
        )
    df = pd.DataFrame(rows, columns=list(header), dtype=object)
    date = pd.to_datetime(df["date"].str.strip(), format="%y%m%d", errors="coerce")

    def clock(column: str) -> pd.Series:
        return pd.to_timedelta(df[column].str.strip(), errors="coerce")

    entry = clock("vru_entry")
    started = (date + entry).astype("datetime64[us]")
    exits = pd.concat(
        [
            clock(c).where(df[c].str.strip() != "0:00:00")
            for c in ("vru_exit", "q_exit", "ser_exit")
        ],
        axis=1,
    )
    ended = (date + exits.max(axis=1)).astype("datetime64[us]")
    served = df["outcome"].str.strip() == "AGENT"
    customer = df["customer_id"].str.strip()
    agent = df["server"].str.strip()
    vru_line = df["vru+line"].str.strip()
    data = pd.DataFrame(
        {
            "contact_id": "technion-"
            + vru_line
            + "-"
            + df["call_id"].str.strip()
            + "-"
            + df["date"].str.strip(),
            "customer_id": customer.mask(customer == "0"),
            "started_at": started,
            "ended_at": ended,
            "channel": "phone",
            "queue": vru_line.str[:4],
            "reason": df["type"].str.strip(),
            "agent_id": agent.mask(agent == "NO_SERVER"),
            "outcome": df["outcome"],
            "wait_seconds": df["q_time"],
            "handle_seconds": df["ser_time"].where(served),
        }
    )
    frame = _Frame(data, np.asarray(lines, dtype=np.int64), _raw_json(header, rows), source)
    table, quarantine, excluded = _normalise(
        frame, outcomes=TECHNION_OUTCOMES, key=key, tz=tz, redact_text=False
    )
    excluded = {PHANTOM_REASON if k == "outcome PHANTOM" else k: v for k, v in excluded.items()}
    quarantine = _concat([_malformed(source, header, bad), quarantine])
    return _result(table, quarantine, excluded, len(rows) + len(bad), source)


# --- generic CSV / Parquet --------------------------------------------------------------------


def read_generic(path: Path, mapping: ContactMapping, *, key: bytes) -> IngestResult:
    """Read a CSV (any delimiter pandas' sniffer would not need: comma) or Parquet export through
    ``mapping``. For Parquet, ``line`` in the quarantine is the 1-based row number."""
    _check_key(key)
    path = Path(path)
    source = path.name
    bad: list[tuple[int, list[str]]] = []
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise UserError(f"{path}: cannot read the Parquet file: {exc}") from exc
        header = [str(c) for c in df.columns]
        lines = np.arange(1, len(df) + 1, dtype=np.int64)
        raw = [
            json.dumps(rec, ensure_ascii=False, default=str)
            for rec in df.astype(object).where(df.notna(), None).to_dict("records")
        ]
    else:
        header, rows, line_list, bad = _scan_csv(path, ",")
        df = pd.DataFrame(rows, columns=header, dtype=object)
        lines = np.asarray(line_list, dtype=np.int64)
        raw = _raw_json(header, rows)
    missing = [c for c in mapping.columns.values() if c not in header]
    if missing:
        raise UserError(
            f"{path}:1: the mapping names column(s) not in the file: {', '.join(missing)}; "
            f"the file has: {', '.join(header)}"
        )
    data = pd.DataFrame({name: df[col] for name, col in mapping.columns.items()})
    for name, value in mapping.defaults.items():
        if name not in data:
            data[name] = value
    frame = _Frame(data, lines, raw, source)
    table, quarantine, excluded = _normalise(
        frame,
        outcomes=mapping.outcomes,
        key=key,
        tz=mapping.timezone,
        timestamp_format=mapping.timestamp_format,
    )
    quarantine = _concat([_malformed(source, header, bad), quarantine])
    return _result(table, quarantine, excluded, len(df) + len(bad), source)


# --- the store --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteReport:
    added: int
    already_present: int
    months: tuple[str, ...]
    files: tuple[Path, ...]


def _month_files(folder: Path, month: str) -> list[Path]:
    return sorted((folder / f"month={month}").glob("part-*.parquet"))


def write_contacts(table: pa.Table, folder: Path) -> WriteReport:
    """Add ``table``'s contacts to the month partitions under ``folder``
    (``folder/month=YYYY-MM/part-*.parquet``), skipping contact ids already stored.

    All new files are written into a temporary folder first and only moved into place once
    every one is written; on failure the moved ones are taken back, so the folder is as it was.
    """
    folder = Path(folder)
    try:
        table = table.select(list(FIELDS)).cast(CONTACT_SCHEMA)
    except (KeyError, pa.ArrowException) as exc:
        raise UserError(f"the contacts do not fit the contact schema: {exc}") from exc
    ids = table.column("contact_id").to_pandas()
    first = ~ids.duplicated(keep="first").to_numpy(dtype=bool)
    table = table.filter(pa.array(first))
    repeated = int((~first).sum())
    months = sorted(set(table.column("month").to_pylist()))
    keep = np.zeros(table.num_rows, dtype=bool)
    month_col = table.column("month").to_numpy(zero_copy_only=False)
    id_col = table.column("contact_id").to_numpy(zero_copy_only=False)
    for month in months:
        existing: set[str] = set()
        for f in _month_files(folder, month):
            existing.update(pq.ParquetFile(f).read(columns=["contact_id"]).column(0).to_pylist())
        in_month = month_col == month
        keep |= in_month & ~pd.Series(id_col).isin(existing).to_numpy(dtype=bool)
    new = table.filter(pa.array(keep))
    already = table.num_rows - new.num_rows + repeated
    moved = write_month_parts(new, folder)
    return WriteReport(
        added=new.num_rows,
        already_present=already,
        months=tuple(months),
        files=tuple(moved),
    )


def write_month_parts(table: pa.Table, folder: Path) -> tuple[Path, ...]:
    """``table`` as one new Parquet file per ``month`` under ``folder/month=M/``, all or none:
    the files are written to a staging folder first, then moved in; on any failure the ones
    already moved are removed again."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{uuid.uuid4().hex}"
    moved: list[Path] = []
    try:
        staged: list[tuple[Path, Path]] = []
        for month in sorted(set(table.column("month").to_pylist())):
            part = table.filter(pc.equal(table.column("month"), month))
            name = f"part-{uuid.uuid4().hex}.parquet"
            tmp = staging / f"month={month}" / name
            tmp.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, tmp)
            staged.append((tmp, folder / f"month={month}" / name))
        for tmp, final in staged:
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            moved.append(final)
    except BaseException:
        for final in moved:
            final.unlink(missing_ok=True)
            if final.parent.exists() and not any(final.parent.iterdir()):
                final.parent.rmdir()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(moved)


def read_contacts(folder: Path) -> pa.Table:
    """Every contact stored under ``folder``, in the contact schema."""
    files = sorted(Path(folder).glob("month=*/part-*.parquet"))
    if not files:
        return CONTACT_SCHEMA.empty_table()
    return pa.concat_tables(pq.ParquetFile(f).read().cast(CONTACT_SCHEMA) for f in files)
