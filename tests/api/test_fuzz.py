"""Property-based fuzzing from /openapi.json (schemathesis): whatever the input, no server
error, and every response matches the status codes and bodies the schema declares.

Operations are driven one by one from the schema (schemathesis' lazy pytest fixtures do not
support the pytest we use); each gets a bounded number of Hypothesis examples.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.conftest import Api, job

from jobgraph.auth import Role

EXAMPLES = 15


def test_no_server_errors_and_responses_match_the_schema(api: Api) -> None:
    api.seed(job("pay-a-bill"))
    api.seed(job("dispute-a-charge", owner="cami"), status="in_review")
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = {"Authorization": f"Bearer {api.tokens[Role.ADMIN]}"}
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=checks)
            statuses.append(response.status_code)

        fuzz()

    assert len(statuses) > 5 * len(operations)
    assert any(s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
