"""Every PostgreSQL connection of a running `events-face serve` terminated at once (what a
failover or an operator's pg_terminate_backend does): requests are answered with 503
database-unavailable problems and Retry-After, never a 500, until the pool has reconnected by
itself; the relay goes on delivering."""

import asyncio

import httpx
import pytest

from tests.conftest import database_of
from tests.support.auth import access_token, bearer
from tests.support.database import empty_tables, postgres_url, terminate_backends_of
from tests.support.events import create_event
from tests.support.notifications import (
    NOTIFICATIONS_TOKEN,
    OWNER_ID,
    eventually,
    notifications,
)
from tests.support.processes import service_environment, start_server, stop, wait_until_ready

__all__ = ["notifications"]
pytestmark = pytest.mark.slow

CONCURRENT = 20
RECOVERY_SECONDS = 10.0


@pytest.mark.postgresql_only("terminates PostgreSQL backends")
async def test_terminated_connections_are_503_problems_then_the_service_recovers(
    app, database_url, notifications
):
    await empty_tables(database_of(app).engine)
    notifications.reset()
    event = await create_event(database_of(app))
    environment = service_environment(
        database_url,
        OUTBOX_RELAY_ENABLED="true",
        # Idle unless woken by a registration: the requests, not the relay, meet the dead
        # connections first.
        OUTBOX_POLL_INTERVAL_SECONDS="30",
        NOTIFICATIONS_URL=notifications.url,
        NOTIFICATIONS_TOKEN=NOTIFICATIONS_TOKEN,
        NOTIFICATIONS_OWNER_ID=OWNER_ID,
        LOG_LEVEL="ERROR",
    )
    server, base_url = await start_server(environment)
    try:
        assert await wait_until_ready(f"{base_url}/health/ready", server, 30) == 200
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            headers = bearer(await access_token(http))

            async def round_of_requests() -> list[httpx.Response]:
                # Each reads the database (a catalogue page may be answered from memory).
                return await asyncio.gather(
                    *(http.get("/api/auth/me", headers=headers) for _ in range(CONCURRENT))
                )

            assert {r.status_code for r in await round_of_requests()} == {200}
            assert await terminate_backends_of(postgres_url() or "", server.pid) >= 2
            answers: list[httpx.Response] = []
            deadline = asyncio.get_running_loop().time() + RECOVERY_SECONDS
            while asyncio.get_running_loop().time() < deadline:
                latest = await round_of_requests()
                answers += latest
                if all(answer.status_code == 200 for answer in latest):
                    break
            registered = await http.post(
                f"/api/events/{event.id}/register",
                json={"full_name": "Иван Петров", "email": "ivan@example.com"},
                headers=headers,
            )
            await eventually(lambda: notifications.delivered_ids, timeout=RECOVERY_SECONDS)
    finally:
        await stop(server)

    unavailable = [answer for answer in answers if answer.status_code == 503]
    assert {answer.status_code for answer in answers} == {200, 503}
    assert all(answer.status_code == 200 for answer in answers[-CONCURRENT:])
    for answer in unavailable:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["type"] == "/problems/database-unavailable"
    assert registered.status_code == 201
