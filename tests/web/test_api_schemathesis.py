"""Property-based API tests generated from the app's own OpenAPI document (schemathesis).

Every operation of /openapi.json is called with requests that hypothesis derives from its
schema, with a write token, against the filled test store. Each response must not be a server
error, must use a status code and content type the document declares, and must match the
declared response schema. The no-500 sweep (test_no_500.py) covers hostile path and query
strings; this covers request bodies and response shapes.

schemathesis' own pytest integration (`from_fixture`) does not run under pytest 9, so the
operations are driven through its Python API: one hypothesis run per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from shellwatch.config import Settings
from tests.web.conftest import bearer

EXAMPLES_PER_OPERATION = 12
# Left out, with the reason: the request models carry rules JSON Schema cannot state (a model needs
# a developer that is an organisation in the knowledge base; a webhook may not target a private
# address; a correction must name a stored claim), so a schema-valid body is rightly refused with
# a 422 naming the field. Every other check runs.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


@pytest.mark.parametrize("read_open", [True, False], ids=["open-reads", "token-reads"])
def test_every_operation_conforms_to_its_schema(filled: Settings, write_token: str, read_open: bool) -> None:
    from web.app import create_app

    app_settings = filled.model_copy(update={"api_read_open": read_open})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure is reproducible, not flaky
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer(write_token), excluded_checks=EXCLUDED_CHECKS)

        try:
            conforms()
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - one run lists every failing operation
            failures[operation.label] = str(failure)[:1500]
    assert failures == {}, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
