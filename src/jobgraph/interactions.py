"""Use cases for contact-centre logs in a workspace: import them (pseudonymised, redacted,
quarantined, idempotent) into ``data/contacts`` and read them back.

With a text classifier, contacts that have text and no reason code are classified at import:
their predicted label, job, confidence and model version are stored per contact in
``data/classifications`` (same month partitions, one row per classified contact), written in the
same all-or-nothing step as the contacts. Abstained contacts are stored with no job, so they stay
unmapped (and go to discovery).

The pseudonymisation key is created once per workspace in ``.jobgraph/pseudonym.key`` (mode
0600), outside ``data/`` and never part of an export, so shared data cannot be re-identified with
it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobgraph.analytics.connect import read_amazon_connect
from jobgraph.analytics.contacts import (
    ContactMapping,
    IngestResult,
    WriteReport,
    read_contacts,
    read_generic,
    read_technion,
    write_contacts,
    write_month_parts,
)
from jobgraph.config import DATA_DIR
from jobgraph.errors import UserError
from jobgraph.service import Workspace

if TYPE_CHECKING:
    from jobgraph.text.classifier import Classifier

KEY_FILE = Path(".jobgraph") / "pseudonym.key"
CONTACTS_DIR = Path(DATA_DIR) / "contacts"
CLASSIFIED_DIR = Path(DATA_DIR) / "classifications"
QUARANTINE_DIR = Path(DATA_DIR) / "quarantine"

CLASSIFIED_SCHEMA = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("month", pa.string(), nullable=False),
        pa.field("predicted_label", pa.string()),
        pa.field("predicted_job", pa.string()),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
    ]
)
"""One row per classified contact. ``predicted_label`` is the model's label (a job id, or an
intent under its job); both it and ``predicted_job`` are null when the model abstained, and
``predicted_job`` is null when the label is no job of the workspace."""
PREDICTION_COLUMNS = tuple(n for n in CLASSIFIED_SCHEMA.names if n not in ("contact_id", "month"))

Stage = Callable[[str, int], Callable[[int], None]]


class Preset(StrEnum):
    TECHNION = "technion"
    AMAZON_CONNECT = "amazon-connect"
    GENERIC = "generic"


@dataclass(frozen=True)
class ClassifyReport:
    """What the classifier did with the new contacts that had text and no reason."""

    model_version: str
    classified: int
    mapped: int
    """Confident predictions whose label is (or maps to) a job."""
    abstained: int
    """Below the model's threshold: left unmapped."""
    unresolved: int
    """Confident predictions whose label is no job of the workspace."""
    files: tuple[Path, ...]


@dataclass(frozen=True)
class ContactImport:
    """What an import did: per file what was read, and what was written for all of them."""

    ingests: tuple[IngestResult, ...]
    written: WriteReport
    quarantine_files: tuple[Path, ...]
    classified: ClassifyReport | None = None

    @property
    def ingest(self) -> IngestResult:
        return self.ingests[0]

    @property
    def quarantine_file(self) -> Path | None:
        return self.quarantine_files[0] if self.quarantine_files else None


def pseudonym_key(ws: Workspace) -> bytes:
    """The workspace's pseudonymisation key, created on first use."""
    path = ws.root / KEY_FILE
    if path.is_file():
        key = path.read_bytes()
        if len(key) < 16:
            raise UserError(f"{path} is not a valid key (too short); restore it from a backup")
        return key
    path.parent.mkdir(mode=0o700, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _read(path: Path, preset: Preset, mapping: str | Path | None, key: bytes) -> IngestResult:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if preset is Preset.TECHNION:
        return read_technion(path, key=key)
    if preset is Preset.AMAZON_CONNECT:
        return read_amazon_connect(path, key=key)
    if mapping is None:
        raise UserError("a generic contact export needs --mapping FILE.toml (see docs/contacts.md)")
    return read_generic(path, ContactMapping.read(Path(mapping)), key=key)


def label_jobs(ws: Workspace, model: Classifier) -> dict[str, str]:
    """Model label -> job id: the label itself when it is a live job, else its parent (the job
    of an intent), else the job whose ``contact_reasons`` hold it. Labels that are none of
    these are left out. A model none of whose labels is a job is an error."""
    from jobgraph.domain.entities import Job, Status
    from jobgraph.metrics import mapping_for

    live = {
        e.id
        for e in ws.entities().values()
        if isinstance(e, Job) and e.status is not Status.RETIRED
    }
    reasons = mapping_for(ws)
    jobs: dict[str, str] = {}
    for label in model.labels:
        parent = model.parents.get(label)
        if label in live:
            jobs[label] = label
        elif parent in live:
            jobs[label] = str(parent)
        elif label in reasons:
            jobs[label] = reasons[label]
    if not jobs:
        shown = ", ".join(repr(label) for label in model.labels[:5])
        raise UserError(
            f"none of the classifier's labels ({shown}, ...) is a job of this workspace, an "
            "intent under one, or a mapped contact reason; train it from this workspace "
            "(`jobgraph classify train --from-workspace`) or add its labels to the jobs' "
            "contact_reasons"
        )
    return jobs


def _stored_ids(folder: Path, months: set[str]) -> set[str]:
    ids: set[str] = set()
    for month in months:
        for f in (folder / f"month={month}").glob("part-*.parquet"):
            ids.update(pq.ParquetFile(f).read(columns=["contact_id"]).column(0).to_pylist())
    return ids


def _classify(
    table: pa.Table, known: set[str], model: Classifier, jobs: dict[str, str], stage: Stage
) -> pa.Table:
    """Predictions for the contacts of ``table`` with text and no reason, not already stored."""
    text = table.column("text").to_pylist()
    reason = table.column("reason").to_pylist()
    ids = table.column("contact_id").to_pylist()
    months = table.column("month").to_pylist()
    rows = [
        i
        for i in range(table.num_rows)
        if isinstance(text[i], str)
        and text[i].strip()
        and not (isinstance(reason[i], str) and reason[i].strip())
        and ids[i] not in known
    ]
    first: dict[str, int] = {}
    for i in rows:
        first.setdefault(ids[i], i)  # a contact id twice in the files: its first row is kept
    rows = list(first.values())
    preds = model.predict([text[i] for i in rows], stage=stage) if rows else []
    return pa.table(
        {
            "contact_id": [ids[i] for i in rows],
            "month": [months[i] for i in rows],
            "predicted_label": [None if p.abstained else p.label for p in preds],
            "predicted_job": [None if p.abstained else jobs.get(p.label) for p in preds],
            "confidence": [p.confidence for p in preds],
            "model_version": [p.model_version for p in preds],
        },
        schema=CLASSIFIED_SCHEMA,
    )


def _write_classified(predictions: pa.Table, folder: Path) -> tuple[Path, ...]:
    """Write the predictions into month partitions under ``folder``; all or none."""
    if not predictions.num_rows:
        return ()
    return write_month_parts(predictions, folder)


def import_contacts(
    ws: Workspace,
    paths: str | Path | Sequence[str | Path],
    preset: Preset | str = Preset.GENERIC,
    *,
    mapping: str | Path | None = None,
    classifier: str | Path | Classifier | None = None,
    stage: Stage | None = None,
) -> ContactImport:
    """Read contact exports and add their new contacts to the workspace; all or nothing.

    Every file is read and checked before anything is written. Rejected rows go to a
    quarantine CSV per file in ``data/quarantine``; re-importing the same file adds nothing.
    With ``classifier`` (a model folder from ``jobgraph classify train``, or a loaded model)
    the new contacts with text and no reason are classified, in batches, before anything is
    written; ``stage(name, total)`` reports progress.
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise UserError("name at least one contact export to import")
    try:
        preset = Preset(preset)
    except ValueError:
        raise UserError(
            f"unknown preset {preset!r}; choose technion, amazon-connect or generic"
        ) from None
    model: Classifier | None = None
    jobs: dict[str, str] = {}
    if classifier is not None:
        from jobgraph.text.classifier import Classifier, load

        model = classifier if isinstance(classifier, Classifier) else load(Path(classifier))
        jobs = label_jobs(ws, model)
    key = pseudonym_key(ws)
    results = [_read(path, preset, mapping, key) for path in files]
    table = pa.concat_tables([r.contacts for r in results])
    predictions = None
    if model is not None:
        months = set(table.column("month").to_pylist())
        known = _stored_ids(ws.root / CONTACTS_DIR, months)
        predictions = _classify(table, known, model, jobs, stage or (lambda n, t: lambda k: None))
    staged: list[Path] = []
    qdir = ws.root / QUARANTINE_DIR
    stamp = ws.clock().strftime("%Y%m%dT%H%M%S")
    written: WriteReport | None = None
    report = None
    try:
        for path, result in zip(files, results, strict=True):
            if len(result.quarantine):
                qdir.mkdir(parents=True, exist_ok=True)
                tmp = qdir / f".{path.stem}-{stamp}.csv.tmp"
                result.quarantine.to_csv(tmp, index=False)
                staged.append(tmp)
        written = write_contacts(table, ws.root / CONTACTS_DIR)
        if model is not None and predictions is not None:
            added: set[str] = set()
            for f in written.files:
                added.update(pq.ParquetFile(f).read(columns=["contact_id"]).column(0).to_pylist())
            predictions = predictions.filter(
                pc.is_in(predictions.column("contact_id"), pa.array(sorted(added), pa.string()))
            )
            report = _report(
                model, predictions, _write_classified(predictions, ws.root / CLASSIFIED_DIR)
            )
    except BaseException:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
        for f in written.files if written is not None else ():
            f.unlink(missing_ok=True)
        raise
    finals = []
    for tmp in staged:
        final = tmp.with_name(tmp.name[1:].removesuffix(".tmp"))
        os.replace(tmp, final)
        finals.append(final)
    return ContactImport(tuple(results), written, tuple(finals), report)


def _report(model: Classifier, predictions: pa.Table, files: tuple[Path, ...]) -> ClassifyReport:
    labels = predictions.column("predicted_label")
    job = predictions.column("predicted_job")
    abstained = labels.null_count
    mapped = len(job) - job.null_count
    return ClassifyReport(
        model_version=model.model_version,
        classified=predictions.num_rows,
        mapped=mapped,
        abstained=abstained,
        unresolved=predictions.num_rows - abstained - mapped,
        files=files,
    )


def classified_source(ws: Workspace) -> str | None:
    """The glob of the stored predictions, or None when no contact was ever classified."""
    folder = ws.root / CLASSIFIED_DIR
    if not any(folder.glob("month=*/part-*.parquet")):
        return None
    return str(folder / "month=*" / "part-*.parquet")


def contacts(ws: Workspace) -> pa.Table:
    """Every stored contact of the workspace, with its prediction columns (``predicted_label``,
    ``predicted_job``, ``confidence``, ``model_version``; null when it was not classified)."""
    folder = ws.root / CONTACTS_DIR
    if not folder.is_dir():
        raise UserError(
            "no contacts in this workspace yet: run `jobgraph interactions import FILE`"
        )
    table = read_contacts(folder)
    files = sorted((ws.root / CLASSIFIED_DIR).glob("month=*/part-*.parquet"))
    preds = (
        pa.concat_tables(pq.ParquetFile(f).read().cast(CLASSIFIED_SCHEMA) for f in files)
        if files
        else CLASSIFIED_SCHEMA.empty_table()
    )
    at = pc.index_in(table.column("contact_id"), value_set=preds.column("contact_id"))
    for name in PREDICTION_COLUMNS:
        table = table.append_column(
            CLASSIFIED_SCHEMA.field(name).with_nullable(True), preds.column(name).take(at)
        )
    return table
