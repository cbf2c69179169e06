"""200 simultaneous registrations for 50 seats, spread over three app processes on one
database, create exactly 50."""

import asyncio

import httpx
import pytest

from tests.conftest import database_of
from tests.support.auth import access_token, bearer
from tests.support.database import empty_tables
from tests.support.events import create_event
from tests.support.processes import service_environment, start_server, stop, wait_until_ready

pytestmark = pytest.mark.slow
REPLICAS = 3
ATTEMPTS = 200
SEATS = 50


async def start_replica(database_url: str) -> tuple[asyncio.subprocess.Process, str]:
    # One user registers every guest here: the per-user limit must not be what refuses.
    # Ten connections each: the replicas must not need more than the server allows.
    environment = service_environment(
        database_url,
        LOG_LEVEL="WARNING",
        REGISTRATIONS_PER_USER_PER_EVENT=str(ATTEMPTS),
        DATABASE_POOL_SIZE="10",
    )
    return await start_server(environment)


async def test_capacity_holds_across_replicas(app, database_url):
    await empty_tables(database_of(app).engine)
    replicas = await asyncio.gather(*(start_replica(database_url) for _ in range(REPLICAS)))
    try:
        for process, base_url in replicas:
            assert await wait_until_ready(f"{base_url}/health/ready", process, 30) == 200
        event = await create_event(database_of(app), capacity=SEATS)
        async with httpx.AsyncClient(timeout=60) as http:
            http.base_url = replicas[0][1]
            headers = bearer(await access_token(http))

            async def attempt(n: int) -> int:
                base_url = replicas[n % REPLICAS][1]
                response = await http.post(
                    f"{base_url}/api/events/{event.id}/register",
                    json={"full_name": f"Гость {n}", "email": f"guest{n}@example.com"},
                    headers=headers,
                )
                return response.status_code

            statuses = await asyncio.gather(*(attempt(n) for n in range(ATTEMPTS)))
            seats = (await http.get(f"/api/events/{event.id}", headers=headers)).json()
            mine = (await http.get("/api/registrations", headers=headers)).json()
    finally:
        for process, _ in replicas:
            await stop(process)

    assert statuses.count(201) == SEATS
    assert statuses.count(409) == ATTEMPTS - SEATS
    assert seats["registrations_count"] == SEATS
    assert seats["seats_left"] == 0
    assert mine["count"] == SEATS
