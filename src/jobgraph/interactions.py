"""Use cases for contact-centre logs in a workspace: import them (pseudonymised, redacted,
quarantined, idempotent) into ``data/contacts`` and read them back.

The pseudonymisation key is created once per workspace in ``.jobgraph/pseudonym.key`` (mode
0600), outside ``data/`` and never part of an export, so shared data cannot be re-identified with
it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from jobgraph.analytics.connect import read_amazon_connect
from jobgraph.analytics.contacts import (
    ContactMapping,
    IngestResult,
    WriteReport,
    read_contacts,
    read_generic,
    read_technion,
    write_contacts,
)
from jobgraph.config import DATA_DIR
from jobgraph.errors import UserError
from jobgraph.service import Workspace

KEY_FILE = Path(".jobgraph") / "pseudonym.key"
CONTACTS_DIR = Path(DATA_DIR) / "contacts"
QUARANTINE_DIR = Path(DATA_DIR) / "quarantine"


class Preset(StrEnum):
    TECHNION = "technion"
    AMAZON_CONNECT = "amazon-connect"
    GENERIC = "generic"


@dataclass(frozen=True)
class ContactImport:
    """What an import did: per file what was read, and what was written for all of them."""

    ingests: tuple[IngestResult, ...]
    written: WriteReport
    quarantine_files: tuple[Path, ...]

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


def import_contacts(
    ws: Workspace,
    paths: str | Path | Sequence[str | Path],
    preset: Preset | str = Preset.GENERIC,
    *,
    mapping: str | Path | None = None,
) -> ContactImport:
    """Read contact exports and add their new contacts to the workspace; all or nothing.

    Every file is read and checked before anything is written. Rejected rows go to a
    quarantine CSV per file in ``data/quarantine``; re-importing the same file adds nothing.
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
    key = pseudonym_key(ws)
    results = [_read(path, preset, mapping, key) for path in files]
    staged: list[Path] = []
    qdir = ws.root / QUARANTINE_DIR
    stamp = ws.clock().strftime("%Y%m%dT%H%M%S")
    try:
        for path, result in zip(files, results, strict=True):
            if len(result.quarantine):
                qdir.mkdir(parents=True, exist_ok=True)
                tmp = qdir / f".{path.stem}-{stamp}.csv.tmp"
                result.quarantine.to_csv(tmp, index=False)
                staged.append(tmp)
        table = pa.concat_tables([r.contacts for r in results])
        written = write_contacts(table, ws.root / CONTACTS_DIR)
    except BaseException:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    finals = []
    for tmp in staged:
        final = tmp.with_name(tmp.name[1:].removesuffix(".tmp"))
        os.replace(tmp, final)
        finals.append(final)
    return ContactImport(tuple(results), written, tuple(finals))


def contacts(ws: Workspace) -> pa.Table:
    """Every stored contact of the workspace."""
    folder = ws.root / CONTACTS_DIR
    if not folder.is_dir():
        raise UserError(
            "no contacts in this workspace yet: run `jobgraph interactions import FILE`"
        )
    return read_contacts(folder)
