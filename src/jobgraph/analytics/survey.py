"""Outcome surveys: importance and satisfaction ratings per respondent and outcome.

Three input formats, all checked cell by cell before anything is used:

- **long** CSV: ``respondent_id, outcome_id, importance, satisfaction`` plus any respondent
  attribute columns (region, plan, persona ...);
- **wide** CSV: one row per respondent, a column pair per outcome. The pairs are found from their
  names (``<outcome>:importance`` / ``<outcome>:satisfaction``, or ``_imp`` / ``_sat``) or given
  by a small TOML mapping;
- **qualtrics**: a Qualtrics CSV export (three header rows: column ids, question texts, import
  ids), exported with numeric values, plus a mapping from its column ids to outcomes.

Ratings are held as flat numpy arrays (one entry per respondent x outcome) so that a million
respondents by fifty outcomes scores in seconds.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from jobgraph.errors import UserError

MAX_REPORTED = 20


class SurveyError(UserError):
    """The survey file cannot be used as given; nothing was scored or saved."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = sorted(problems, key=_line_of)
        shown = [f"  {p}" for p in self.problems[:MAX_REPORTED]]
        if len(self.problems) > MAX_REPORTED:
            shown.append(f"  ... and {len(self.problems) - MAX_REPORTED} more")
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n" + "\n".join(shown))


def _line_of(problem: str) -> int:
    # "survey.csv:12: column ..." -> 12
    m = re.match(r"^[^:]*:(\d+):", problem)
    return int(m[1]) if m else 0


class SurveyFormat(StrEnum):
    LONG = "long"
    WIDE = "wide"
    QUALTRICS = "qualtrics"


@dataclass(frozen=True, slots=True)
class Scale:
    """A rating scale and its top-box threshold: ratings >= ``top_box`` count as top box."""

    low: int = 1
    high: int = 5
    top_box: int = 4

    @classmethod
    def parse(cls, text: str = "1-5", top_box: int | None = None) -> Scale:
        # matches "1-5", "0-10", "1 - 7"
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
        if not m or int(m[1]) >= int(m[2]):
            raise UserError(f"scale {text!r} is not a range like 1-5, 1-7 or 1-10")
        low, high = int(m[1]), int(m[2])
        box = high - 1 if top_box is None else top_box
        if not low < box <= high:
            raise UserError(
                f"top-box threshold {box} must lie within the scale {low}-{high} and above "
                f"{low} (e.g. {high - 1} for top-2-box)"
            )
        return cls(low, high, box)

    def __str__(self) -> str:
        return f"{self.low}-{self.high} (top box >= {self.top_box})"


@dataclass(frozen=True)
class Survey:
    """Ratings as flat arrays: entry i is respondent ``respondent[i]`` rating ``outcome[i]``."""

    respondent_ids: npt.NDArray[np.object_]
    outcome_ids: tuple[str, ...]
    respondent: npt.NDArray[np.int32]
    outcome: npt.NDArray[np.int32]
    importance: npt.NDArray[np.float32]
    satisfaction: npt.NDArray[np.float32]
    attributes: pd.DataFrame
    scale: Scale
    source: str
    persona_column: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_respondents(self) -> int:
        return len(self.respondent_ids)

    def rated_both(self) -> npt.NDArray[np.bool_]:
        return ~(np.isnan(self.importance) | np.isnan(self.satisfaction))

    def segment_codes(self, column: str) -> tuple[npt.NDArray[np.int32], list[str]]:
        """Per rating entry, the code of its respondent's value in ``column`` (-1 when the
        respondent has none); and the value names."""
        if column not in self.attributes.columns:
            choices = ", ".join(self.attributes.columns) or "none"
            raise UserError(
                f"{self.source}: no respondent attribute {column!r} to segment by; "
                f"attributes: {choices}"
            )
        values = self.attributes[column].reindex(self.respondent_ids)
        codes, names = pd.factorize(values, sort=True, use_na_sentinel=True)
        return codes.astype(np.int32)[self.respondent], [str(n) for n in names]

    @classmethod
    def from_frame(
        cls,
        ratings: pd.DataFrame,
        attributes: pd.DataFrame | None = None,
        *,
        scale: Scale | None = None,
        source: str = "survey",
        persona_column: str | None = None,
    ) -> Survey:
        """From a long frame with respondent_id, outcome_id, importance, satisfaction (numbers
        already checked)."""
        resp_codes, resp_ids = pd.factorize(ratings["respondent_id"].astype(str))
        out_codes, out_ids = pd.factorize(ratings["outcome_id"].astype(str))
        attrs = attributes if attributes is not None else pd.DataFrame(index=pd.Index([]))
        return cls(
            respondent_ids=np.asarray(resp_ids, dtype=object),
            outcome_ids=tuple(str(o) for o in out_ids),
            respondent=resp_codes.astype(np.int32),
            outcome=out_codes.astype(np.int32),
            importance=ratings["importance"].to_numpy(dtype=np.float32),
            satisfaction=ratings["satisfaction"].to_numpy(dtype=np.float32),
            attributes=attrs,
            scale=scale or Scale(),
            source=source,
            persona_column=persona_column,
        )


@dataclass(frozen=True)
class WideMapping:
    """Which columns hold each outcome's importance and satisfaction, and the respondent id."""

    respondent_id: str | None
    outcomes: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, path: Path) -> WideMapping:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{path}: cannot read the mapping: {exc}") from exc
        outcomes = {}
        for outcome_id, spec in (data.get("outcomes") or {}).items():
            if not isinstance(spec, dict) or not {"importance", "satisfaction"} <= set(spec):
                raise UserError(
                    f"{path}: outcomes.{outcome_id!r} needs `importance` and `satisfaction` "
                    "column names"
                )
            outcomes[str(outcome_id)] = (str(spec["importance"]), str(spec["satisfaction"]))
        if not outcomes:
            raise UserError(f'{path}: no [outcomes."<id>"] tables with column names')
        rid = data.get("respondent_id")
        return cls(str(rid) if rid is not None else None, outcomes)


# a wide column name for one half of a pair, e.g. "outcome.x:importance", "Q3_imp", "q3 sat"
_PAIR = re.compile(
    r"^(?P<outcome>.+?)(?:[:_ ]|__)(?P<which>importance|imp|satisfaction|sat)$", re.IGNORECASE
)
QUALTRICS_META = frozenset(
    [
        "StartDate",
        "EndDate",
        "Status",
        "IPAddress",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecordedDate",
        "ResponseId",
        "RecipientLastName",
        "RecipientFirstName",
        "RecipientEmail",
        "ExternalReference",
        "LocationLatitude",
        "LocationLongitude",
        "DistributionChannel",
        "UserLanguage",
    ]
)


def _decode(path: Path, encoding: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: not {encoding} text (byte 0x{raw[exc.start]:02x}); save the file "
            "as UTF-8, or pass --encoding with its real encoding (e.g. latin-1, cp1252)"
        ) from None
    except LookupError:
        raise UserError(f"unknown encoding {encoding!r}") from None
    if not text.strip():
        raise UserError(f"{path}: the file is empty; export the survey responses again")
    return text


Lines = npt.NDArray[np.int64]


def _scan(text: str, source: str, header_rows: int) -> tuple[list[list[str]], Lines]:
    """Check the CSV's shape record by record: the header rows, and the line each data record
    starts on (quoted fields may span lines; blank lines are skipped)."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    headers: list[list[str]] = []
    starts: list[int] = []
    problems: list[str] = []
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not row:
                continue
            if len(headers) < header_rows:
                headers.append(row)
                continue
            if len(row) != len(headers[0]):
                problems.append(
                    f"{source}:{start}: {len(row)} fields, but the header has "
                    f"{len(headers[0])}; check for a stray or missing comma"
                )
            starts.append(start)
    except csv.Error as exc:
        raise UserError(f"{source}:{reader.line_num}: not a readable CSV file ({exc})") from None
    if not headers:
        raise UserError(f"{source}: the file is empty; export the survey responses again")
    names = [c.strip() for c in headers[0]]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        problems.insert(
            0,
            f"{source}:1: column(s) {', '.join(map(repr, dupes))} appear more "
            "than once; give every column its own name",
        )
    if problems:
        raise SurveyError(source, problems)
    return headers, np.asarray(starts, dtype=np.int64)


def _read_csv(
    text: str, source: str, header_rows: int = 1
) -> tuple[pd.DataFrame, Lines, list[list[str]]]:
    """The data as strings, the file line of each row, and the header rows."""
    headers, lines = _scan(text, source, header_rows)
    if len(lines) == 0:
        raise UserError(f"{source}: the file has a header but no responses")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skiprows=list(range(1, header_rows)),
            skipinitialspace=True,
            index_col=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{source}: not a readable CSV file ({exc})") from None
    frame.columns = [str(c).strip() for c in headers[0]]
    if len(frame) != len(lines):
        raise UserError(
            f"{source}: the CSV could not be read consistently ({len(frame)} rows "
            f"parsed, {len(lines)} records found); check its quoting"
        )
    return frame, lines, headers


def _ratings(
    values: pd.Series,
    column: str,
    scale: Scale,
    lines: Lines,
    source: str,
    problems: list[str],
) -> npt.NDArray[np.float32]:
    """Check one column of ratings; blank cells are missing answers."""
    text = values.astype(str).str.strip()
    blank = text == ""
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    bad_type = numbers.isna() & ~blank
    for i in np.flatnonzero(bad_type.to_numpy())[:MAX_REPORTED]:
        problems.append(
            f"{source}:{lines[i]}: column {column!r}: {text.iloc[i]!r} is not a number on "
            f"the {scale.low}-{scale.high} scale"
            + (" (export numeric values, not choice texts)" if text.iloc[i].isalpha() else "")
        )
    arr = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad_range = ~np.isnan(arr) & ((arr < scale.low) | (arr > scale.high) | (arr % 1 != 0))
    for i in np.flatnonzero(bad_range)[:MAX_REPORTED]:
        problems.append(
            f"{source}:{lines[i]}: column {column!r}: {text.iloc[i]} is outside the scale "
            f"{scale.low}-{scale.high} (whole numbers); check the scale with --scale"
        )
    ratings: npt.NDArray[np.float32] = arr.astype(np.float32)
    return ratings


def read_survey(
    path: str | Path,
    fmt: SurveyFormat | str = SurveyFormat.LONG,
    *,
    scale: Scale | None = None,
    mapping: WideMapping | None = None,
    persona_column: str | None = "persona",
    encoding: str = "utf-8",
) -> Survey:
    """Read and check a survey file; raise :class:`SurveyError` listing every problem found."""
    path = Path(path)
    scale = scale or Scale()
    try:
        fmt = SurveyFormat(fmt)
    except ValueError:
        raise UserError(f"unknown survey format {fmt!r}; choose long, wide or qualtrics") from None
    text = _decode(path, encoding)
    source = path.name
    if fmt is SurveyFormat.LONG:
        survey = _read_long(text, source, scale)
    elif fmt is SurveyFormat.WIDE:
        frame, lines, _ = _read_csv(text, source)
        survey = _read_wide(frame, source, scale, mapping, lines=lines)
    else:
        survey = _read_qualtrics(text, source, scale, mapping)
    persona = persona_column if persona_column in survey.attributes.columns else None
    return replace(survey, persona_column=persona)


LONG_COLUMNS = ("respondent_id", "outcome_id", "importance", "satisfaction")


def _read_long(text: str, source: str, scale: Scale) -> Survey:
    frame, lines, _ = _read_csv(text, source)
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise SurveyError(
            source,
            [
                f"missing column(s) {', '.join(missing)}; a long survey has columns "
                f"{', '.join(LONG_COLUMNS)} plus any respondent attributes "
                f"(found: {', '.join(frame.columns)}). Use --format wide for one row per respondent"
            ],
        )
    problems: list[str] = []
    for col in ("respondent_id", "outcome_id"):
        empty = np.flatnonzero((frame[col].str.strip() == "").to_numpy())
        problems += [f"{source}:{lines[i]}: column {col!r} is empty" for i in empty[:MAX_REPORTED]]
    imp = _ratings(frame["importance"], "importance", scale, lines, source, problems)
    sat = _ratings(frame["satisfaction"], "satisfaction", scale, lines, source, problems)
    key = frame["respondent_id"].str.strip() + "\x1f" + frame["outcome_id"].str.strip()
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first: dict[str, int] = {}
        for i in np.flatnonzero(dup):
            k = key.iloc[i]
            if k in first:
                rid, oid = k.split("\x1f")
                problems.append(
                    f"{source}:{lines[i]}: respondent {rid!r} rated outcome {oid!r} already on "
                    f"line {lines[first[k]]}; keep one answer per respondent and outcome"
                )
            else:
                first[k] = int(i)
    attr_cols = [c for c in frame.columns if c not in LONG_COLUMNS]
    attributes = _attributes(frame, "respondent_id", attr_cols, source, lines, problems)
    if problems:
        raise SurveyError(source, problems)
    ratings = pd.DataFrame(
        {
            "respondent_id": frame["respondent_id"].str.strip(),
            "outcome_id": frame["outcome_id"].str.strip(),
            "importance": imp,
            "satisfaction": sat,
        }
    )
    return Survey.from_frame(ratings, attributes, scale=scale, source=source)


def _attributes(
    frame: pd.DataFrame,
    id_col: str,
    columns: list[str],
    source: str,
    lines: Lines,
    problems: list[str],
) -> pd.DataFrame:
    """One row per respondent; a respondent whose attributes differ between rows is an error."""
    ids = frame[id_col].str.strip()
    attrs = (
        frame[columns].apply(lambda s: s.str.strip())
        if columns
        else pd.DataFrame(index=frame.index)
    )
    attrs = attrs.assign(**{"__id": ids})
    if columns:
        distinct = attrs.drop_duplicates()
        clash = distinct["__id"].duplicated(keep=False)
        for rid in distinct.loc[clash, "__id"].unique()[:MAX_REPORTED]:
            where = lines[np.flatnonzero((ids == rid).to_numpy())[:3]].tolist()
            problems.append(
                f"{source}: respondent {rid!r} has different attribute values on lines "
                f"{', '.join(map(str, where))}; attributes belong to the respondent"
            )
    out = attrs.drop_duplicates("__id").set_index("__id")
    out.index.name = "respondent_id"
    return out.replace("", np.nan)


def _pairs_from_names(columns: Sequence[str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Column pairs by name (outcome names compared without case), and the unpaired halves."""
    found: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    for col in columns:
        m = _PAIR.match(col)
        if m:
            which = "importance" if m["which"].lower().startswith("imp") else "satisfaction"
            key = m["outcome"].lower()
            names.setdefault(key, m["outcome"])
            found.setdefault(key, {})[which] = col
    pairs = {
        names[k]: (p["importance"], p["satisfaction"])
        for k, p in found.items()
        if {"importance", "satisfaction"} <= set(p)
    }
    unpaired = [
        f"column {col!r} looks like the {which} of outcome {names[k]!r} but there is no "
        f"{'satisfaction' if which == 'importance' else 'importance'} column to pair it with; "
        "fix the column name or pass --mapping"
        for k, p in found.items()
        if len(p) == 1
        for which, col in p.items()
    ]
    return pairs, unpaired


def _read_wide(
    frame: pd.DataFrame,
    source: str,
    scale: Scale,
    mapping: WideMapping | None,
    lines: Lines,
    id_default: str = "respondent_id",
    exclude: frozenset[str] = frozenset(),
) -> Survey:
    id_col = (mapping.respondent_id if mapping else None) or id_default
    problems: list[str] = []
    if mapping:
        pairs = mapping.outcomes
    else:
        pairs, unpaired = _pairs_from_names(list(frame.columns))
        problems += unpaired
    if id_col not in frame.columns:
        problems.append(
            f"missing respondent id column {id_col!r} (found: {', '.join(frame.columns[:12])}...)"
        )
    if not pairs:
        problems.append(
            "no outcome column pairs found: name them '<outcome>:importance' and "
            "'<outcome>:satisfaction' (or _imp/_sat), or pass --mapping FILE.toml"
        )
    for outcome, (imp_col, sat_col) in pairs.items():
        for col in (imp_col, sat_col):
            if col not in frame.columns:
                problems.append(f"missing column {col!r} for outcome {outcome!r} (mapping)")
    if problems:
        raise SurveyError(source, problems)
    ids = frame[id_col].str.strip()
    for i in np.flatnonzero((ids == "").to_numpy())[:MAX_REPORTED]:
        problems.append(f"{source}:{lines[i]}: column {id_col!r} is empty")
    dup = ids.duplicated(keep=False).to_numpy() & (ids != "").to_numpy()
    seen: dict[str, int] = {}
    for i in np.flatnonzero(dup):
        if ids.iloc[i] in seen:
            problems.append(
                f"{source}:{lines[i]}: respondent {ids.iloc[i]!r} appears "
                f"again (first on line {lines[seen[ids.iloc[i]]]})"
            )
        else:
            seen[ids.iloc[i]] = int(i)
    outcome_ids = list(pairs)
    n = len(frame)
    imp = np.empty((n, len(outcome_ids)), dtype=np.float32)
    sat = np.empty_like(imp)
    for j, outcome in enumerate(outcome_ids):
        imp_col, sat_col = pairs[outcome]
        imp[:, j] = _ratings(frame[imp_col], imp_col, scale, lines, source, problems)
        sat[:, j] = _ratings(frame[sat_col], sat_col, scale, lines, source, problems)
    used = {id_col, *(c for pair in pairs.values() for c in pair)} | exclude
    attr_cols = [c for c in frame.columns if c not in used]
    attributes = _attributes(frame, id_col, attr_cols, source, lines, problems)
    if problems:
        raise SurveyError(source, problems)
    resp = np.repeat(np.arange(n, dtype=np.int32), len(outcome_ids))
    outc = np.tile(np.arange(len(outcome_ids), dtype=np.int32), n)
    return Survey(
        respondent_ids=ids.to_numpy(dtype=object),
        outcome_ids=tuple(outcome_ids),
        respondent=resp,
        outcome=outc,
        importance=imp.reshape(-1),
        satisfaction=sat.reshape(-1),
        attributes=attributes,
        scale=scale,
        source=source,
    )


def _read_qualtrics(text: str, source: str, scale: Scale, mapping: WideMapping | None) -> Survey:
    not_qualtrics = SurveyError(
        source,
        [
            "not a Qualtrics export: expected three header rows (column ids, question texts, "
            '{"ImportId": ...}) before the responses; use --format wide for a plain CSV'
        ],
    )
    try:
        frame, lines, headers = _read_csv(text, source, header_rows=3)
    except UserError:
        headers = _scan(text, source, 3)[0] if text.count("ImportId") else []
        if len(headers) < 3:
            raise not_qualtrics from None
        raise
    if not any("ImportId" in cell for cell in headers[2]):
        raise not_qualtrics
    notes: list[str] = []
    if "Finished" in frame.columns:
        finished = frame["Finished"].str.strip().str.lower().isin(["1", "true"])
        dropped = int((~finished).sum())
        if dropped:
            notes.append(f"{dropped} unfinished response(s) left out")
        keep = finished.to_numpy()
        frame = frame.loc[keep].reset_index(drop=True)
        lines = lines[keep]
        if frame.empty:
            raise UserError(f"{source}: no finished responses")
    survey = _read_wide(
        frame, source, scale, mapping, lines=lines, id_default="ResponseId", exclude=QUALTRICS_META
    )
    return replace(survey, notes=tuple(notes))
