"""Schemathesis against our own OpenAPI document, on a real server, authenticated: no 5xx,
and every response matches its documented status, content type and schema; on SQLite, and on
PostgreSQL (which refuses text SQLite stores: a NUL, a lone surrogate)."""

from collections.abc import AsyncIterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.database import empty_database
from tests.support.processes import running_server, service_environment

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
async def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """`events-face serve` over the test database, emptied; its log is kept beside the test's
    temporary files, for the traceback of a 500."""
    await empty_database(database_url)
    env = service_environment(database_url, RATE_LIMIT_AUTH="1000000/minute", LOG_LEVEL="WARNING")
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    async with running_server("events-face serve", env, log) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def auth_headers(live_server: str) -> dict[str, str]:
    response = httpx.post(
        f"{live_server}/api/auth/register",
        json={"username": "fuzzer", "password": "fuzzing-password"},
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _fuzz_operation(operation, base_url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


def test_the_api_keeps_its_documented_contract(live_server, auth_headers):
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:
        try:
            _fuzz_operation(operation, live_server, auth_headers)
        except Exception as failure:  # collect every operation's failure, then report
            failures[operation.label] = str(failure)[:2000]

    assert {"POST /api/auth/register", "GET /api/auth/me"} <= {op.label for op in operations}
    assert failures == {}
