"""Labelled and unlabelled utterances: reading files, checking them, sampling k-shot subsets.

Every reading error is a :class:`TextDataError` naming the file, the line and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jobgraph.domain.entities import Entity, Job, Status
from jobgraph.errors import UserError


class TextDataError(UserError):
    """The utterance file cannot be used as given."""


@dataclass(frozen=True)
class Examples:
    """Utterances with their label and, in a two-level taxonomy, the label's parent."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    parents: tuple[str, ...] | None = None
    source: str = "<memory>"
    lines: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise TextDataError(
                f"{self.source}: {len(self.texts)} texts but {len(self.labels)} labels"
            )
        if self.parents is not None and len(self.parents) != len(self.labels):
            raise TextDataError(
                f"{self.source}: {len(self.labels)} labels but {len(self.parents)} parent labels"
            )
        for i, (text, label) in enumerate(zip(self.texts, self.labels, strict=True)):
            where = self.where(i)
            if not text.strip():
                raise TextDataError(f"{where}: the text is empty; remove the row or fill it in")
            if not label.strip():
                raise TextDataError(f"{where}: the label is empty; remove the row or label it")

    @classmethod
    def from_rows(
        cls, rows: Sequence[tuple[str, str] | tuple[str, str, str]], source: str = "<memory>"
    ) -> Examples:
        """From ``(text, label)`` or ``(text, label, parent label)`` tuples."""
        if not rows:
            raise TextDataError(f"{source}: no examples")
        widths = {len(r) for r in rows}
        if len(widths) != 1 or widths - {2, 3}:
            raise TextDataError(
                f"{source}: give every example as (text, label) or every one as "
                "(text, label, parent label)"
            )
        texts = tuple(r[0] for r in rows)
        labels = tuple(r[1] for r in rows)
        parents = tuple(r[2] for r in rows) if widths == {3} else None  # type: ignore[misc]
        return cls(texts, labels, parents, source)

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, i: int) -> str:
        return f"{self.source}:{self.lines[i]}" if self.lines else f"{self.source}: example {i + 1}"

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))

    def parent_of(self) -> dict[str, str]:
        """Label -> parent label; a label filed under two parents is an error."""
        if self.parents is None:
            return {}
        mapping: dict[str, str] = {}
        for i, (label, parent) in enumerate(zip(self.labels, self.parents, strict=True)):
            if mapping.setdefault(label, parent) != parent:
                raise TextDataError(
                    f"{self.where(i)}: label {label!r} is under parent {parent!r} here but under "
                    f"{mapping[label]!r} earlier; a label has one parent"
                )
        return mapping

    def check_trainable(self) -> None:
        """Refuse training sets that cannot give a classifier: one class, or singleton labels."""
        counts = Counter(self.labels)
        if len(counts) < 2:
            raise TextDataError(
                f"{self.source}: only one label ({next(iter(counts))!r}); a classifier needs at "
                "least two"
            )
        single = sorted(label for label, n in counts.items() if n < 2)
        if single:
            shown = ", ".join(repr(s) for s in single[:10])
            more = f" and {len(single) - 10} more" if len(single) > 10 else ""
            raise TextDataError(
                f"{self.source}: {len(single)} label(s) have a single example ({shown}{more}); "
                "give each label at least two examples (five or more works much better) or "
                "merge it into another label"
            )
        self.parent_of()

    def subset(self, indices: Sequence[int]) -> Examples:
        return Examples(
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
            tuple(self.parents[i] for i in indices) if self.parents is not None else None,
            self.source,
            tuple(self.lines[i] for i in indices) if self.lines else (),
        )


def examples_from_jobs(entities: Iterable[Entity], source: str = "workspace") -> Examples:
    """The example utterances of the live jobs, labelled with their job id.

    When any job has intents the taxonomy has two levels: an intent's examples are labelled
    with the intent name under its job, and a job's own ``examples`` with the job id under
    itself.
    """
    jobs = sorted(
        (e for e in entities if isinstance(e, Job) and e.status is not Status.RETIRED),
        key=lambda j: j.id,
    )
    rows: list[tuple[str, str, str]] = []
    for job in jobs:
        rows += [(text, job.id, job.id) for text in job.examples]
        for intent in job.intents:
            rows += [(text, intent.name, job.id) for text in intent.examples]
    if not rows:
        raise TextDataError(
            f"{source}: no job has example utterances; add `examples` (or `intents` with their "
            "`examples`) to the jobs, or train from a labelled file with --data"
        )
    rows = [r for r in rows if r[0].strip()]  # blank examples are a lint error, not data
    if any(job.intents for job in jobs):
        return Examples.from_rows(rows, source)
    return Examples.from_rows([(text, label) for text, label, _ in rows], source)


def k_shot(examples: Examples, k: int, seed: int) -> Examples:
    """At most ``k`` examples per label, drawn at random with ``seed``."""
    if k < 1:
        raise TextDataError(f"--k-shot must be at least 1, not {k}")
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(examples.labels):
        by_label.setdefault(label, []).append(i)
    chosen: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label]
        chosen += idx if len(idx) <= k else rng.sample(idx, k)
    return examples.subset(sorted(chosen))


def split(examples: Examples, test_size: float, seed: int) -> tuple[Examples, Examples]:
    """A stratified train/test split (every label keeps at least one training example)."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(examples.labels):
        by_label.setdefault(label, []).append(i)
    train: list[int] = []
    test: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        n_test = min(len(idx) - 1, round(len(idx) * test_size))
        test += idx[:n_test]
        train += idx[n_test:]
    return examples.subset(sorted(train)), examples.subset(sorted(test))


def _decode(path: Path, encoding: str) -> str:
    if not path.is_file():
        raise TextDataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TextDataError(
            f"{path}:{line}: not valid {encoding} (byte {raw[exc.start]:#04x}); save the file as "
            "UTF-8 or pass --encoding (e.g. --encoding cp1252)"
        ) from None
    except LookupError:
        raise TextDataError(f"unknown encoding {encoding!r}; try utf-8 or cp1252") from None


def _records(path: Path, encoding: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Column names and ``(line, row)`` pairs of a CSV, TSV or JSON-lines file."""
    text = _decode(path, encoding).lstrip("\ufeff")
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        rows: list[tuple[int, dict[str, str]]] = []
        columns: dict[str, None] = {}
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TextDataError(f"{path}:{n}: not a JSON object ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise TextDataError(f"{path}:{n}: each line must be a JSON object")
            columns.update(dict.fromkeys(obj))
            rows.append((n, {k: "" if v is None else str(v) for k, v in obj.items()}))
        return list(columns), rows
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise TextDataError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise TextDataError(f"{path}:1: unreadable header ({exc})") from None
    out: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            at = reader.line_num
            if len(cells) != len(header):
                raise TextDataError(
                    f"{path}:{at}: {len(cells)} fields but the header has {len(header)}; "
                    "quote texts that contain the delimiter"
                )
            out.append((at, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise TextDataError(f"{path}:{reader.line_num}: {exc}") from None
    return header, out


def _need(path: Path, columns: list[str], name: str, option: str) -> None:
    if name not in columns:
        raise TextDataError(
            f"{path}: no column {name!r}; the columns are {', '.join(map(repr, columns))}. "
            f"Pass {option} with one of them"
        )


def read_examples(
    path: Path,
    text_col: str = "text",
    label_col: str = "category",
    parent_col: str | None = None,
    encoding: str = "utf-8",
) -> Examples:
    """Read labelled utterances from a CSV, TSV or JSON-lines file."""
    columns, rows = _records(path, encoding)
    _need(path, columns, text_col, "--text-col")
    _need(path, columns, label_col, "--label-col")
    if parent_col is not None:
        _need(path, columns, parent_col, "--parent-col")
    if not rows:
        raise TextDataError(f"{path}: no rows after the header")
    return Examples(
        tuple(r[text_col] for _, r in rows),
        tuple(r[label_col].strip() for _, r in rows),
        tuple(r[parent_col].strip() for _, r in rows) if parent_col else None,
        str(path),
        tuple(n for n, _ in rows),
    )


def read_texts(
    path: Path, text_col: str = "text", encoding: str = "utf-8", label_col: str | None = None
) -> tuple[list[str], list[str] | None]:
    """Read unlabelled utterances (and, for evaluation, an optional label column)."""
    columns, rows = _records(path, encoding)
    _need(path, columns, text_col, "--text-col")
    if label_col is not None:
        _need(path, columns, label_col, "--label-col")
    texts: list[str] = []
    for n, r in rows:
        if not r[text_col].strip():
            raise TextDataError(f"{path}:{n}: the text is empty; remove the row or fill it in")
        texts.append(r[text_col])
    if not texts:
        raise TextDataError(f"{path}: no rows after the header")
    labels = [r[label_col] for _, r in rows] if label_col is not None else None
    return texts, labels
