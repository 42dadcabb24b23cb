"""Use cases for contact-centre logs in a workspace: import them (pseudonymised, redacted,
quarantined, idempotent) into ``data/contacts`` and read them back.

The pseudonymisation key is created once per workspace in ``.jobgraph/pseudonym.key`` (mode
0600), outside ``data/`` and never part of an export, so shared data cannot be re-identified with
it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

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
    GENERIC = "generic"


@dataclass(frozen=True)
class ContactImport:
    ingest: IngestResult
    written: WriteReport
    quarantine_file: Path | None


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


def import_contacts(
    ws: Workspace,
    path: str | Path,
    preset: Preset | str = Preset.GENERIC,
    *,
    mapping: str | Path | None = None,
) -> ContactImport:
    """Read a contact export and add its new contacts to the workspace; all or nothing.

    Rejected rows go to a quarantine CSV in ``data/quarantine``; re-importing the same file adds
    nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        preset = Preset(preset)
    except ValueError:
        raise UserError(f"unknown preset {preset!r}; choose technion or generic") from None
    key = pseudonym_key(ws)
    if preset is Preset.TECHNION:
        result = read_technion(path, key=key)
    else:
        if mapping is None:
            raise UserError(
                "a generic contact export needs --mapping FILE.toml (see docs/contacts.md)"
            )
        result = read_generic(path, ContactMapping.read(Path(mapping)), key=key)
    staged = None
    if len(result.quarantine):
        qdir = ws.root / QUARANTINE_DIR
        qdir.mkdir(parents=True, exist_ok=True)
        stamp = ws.clock().strftime("%Y%m%dT%H%M%S")
        staged = qdir / f".{path.stem}-{stamp}.csv.tmp"
        result.quarantine.to_csv(staged, index=False)
    try:
        written = write_contacts(result.contacts, ws.root / CONTACTS_DIR)
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    final = None
    if staged is not None:
        final = staged.with_name(staged.name[1:].removesuffix(".tmp"))
        os.replace(staged, final)
    return ContactImport(result, written, final)


def contacts(ws: Workspace) -> pa.Table:
    """Every stored contact of the workspace."""
    folder = ws.root / CONTACTS_DIR
    if not folder.is_dir():
        raise UserError("no contacts in this workspace yet: run `jobgraph contacts import FILE`")
    return read_contacts(folder)
