"""Running the CLI in-process through its real entry point."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobgraph.cli import main

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("list", "--json")`` -> (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


# the column mapping of the contact exports the interactions tests import (a TOML file)
MAPPING = """timezone = "UTC"
[columns]
contact_id = "Id"
started_at = "Created"
outcome = "Status"
customer_id = "Customer"
reason = "Disposition"
text = "Notes"
[defaults]
channel = "chat"
[outcomes]
"Completed" = "served"
"Dropped" = "abandoned"
"""
