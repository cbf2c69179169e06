"""Schemathesis against our own OpenAPI document, on a real server, authenticated: no 5xx,
and every response matches its documented status, content type and schema."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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

from tests.support.processes import PROJECT_ROOT, free_port, service_environment

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _wait_until_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"{base_url}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = service_environment(
        f"sqlite+aiosqlite:///{work / 'fuzz.db'}",
        RATE_LIMIT_AUTH="1000000/minute",
        LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, server)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
