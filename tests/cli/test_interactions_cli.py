"""`jobgraph contacts import`: a generic export through a mapping, inside a workspace."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pyarrow.compute as pc
import pytest
from tests.cli.conftest import MAPPING, Run

from jobgraph.interactions import KEY_FILE, contacts
from jobgraph.service import Workspace

EXPORT = """Id,Created,Status,Customer,Disposition,Notes
c1,2026-10-01T09:00:00,Completed,cust-42,billing,"mail me at ann@example.com"
c2,2026-10-01T09:05:00,Dropped,cust-42,billing,
c3,not a time,Completed,cust-7,billing,
c4,2026-11-02T10:00:00,Vanished,cust-7,card,
"""


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> Path:
    monkeypatch.setenv("JOBGRAPH_USER", "alice")
    monkeypatch.delenv("JOBGRAPH_WORKSPACE", raising=False)
    assert run("init", str(tmp_path / "ws"))[0] == 0
    monkeypatch.chdir(tmp_path / "ws")
    (tmp_path / "export.csv").write_text(EXPORT)
    (tmp_path / "map.toml").write_text(MAPPING)
    return tmp_path / "ws"


def test_import_quarantines_pseudonymises_and_is_idempotent(ws_dir: Path, run: Run) -> None:
    code, out, err = run(
        "interactions", "import", "../export.csv", "--mapping", "../map.toml", "--json"
    )
    assert code == 0, err
    first = json.loads(out)
    (file,) = first["files"]
    assert (file["read"], file["accepted"], file["quarantined"]) == (4, 2, 2)
    assert first["added"] == 2
    quarantine = Path(first["quarantine_files"][0]).read_text()
    assert "bad timestamp" in quarantine and "unknown outcome" in quarantine
    key = ws_dir / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not str(key.relative_to(ws_dir)).startswith("data")

    with Workspace.open(ws_dir) as ws:
        table = contacts(ws)
    assert table.num_rows == 2
    customers = set(table.column("customer_id").to_pylist())
    assert len(customers) == 1 and "cust-42" not in customers
    texts = [t for t in table.column("text").to_pylist() if t]
    assert texts and all("ann@example.com" not in t for t in texts)
    assert pc.all(pc.equal(table.column("channel"), "chat")).as_py()

    code, out, _ = run(
        "interactions", "import", "../export.csv", "--mapping", "../map.toml", "--json"
    )
    again = json.loads(out)
    assert (again["added"], again["already_present"]) == (0, 2)


def test_generic_import_needs_a_mapping(ws_dir: Path, run: Run) -> None:
    code, _, err = run("interactions", "import", "../export.csv")
    assert code == 1
    assert "needs --mapping" in err
    assert not (ws_dir / "data" / "contacts").exists()
