"""A request whose transaction PostgreSQL rolls back so that a concurrent one can finish (a
deadlock) is told to try again — a 503 problem with Retry-After, not a 500 — and changed
nothing."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import client_of, database_of
from tests.support.auth import access_token, bearer
from tests.support.events import create_event
from tests.support.notifications import eventually

VISITOR = {"full_name": "Иван Петров", "email": "ivan@example.com"}


async def waits_for_events(connection: AsyncConnection) -> bool:
    waiting = await connection.scalar(
        text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass")
    )
    return bool(waiting)


@pytest.mark.postgresql_only("SQLite writes one transaction at a time: none can deadlock")
async def test_a_request_that_loses_a_deadlock_is_told_to_try_again(app, database_url):
    async with client_of(app) as http:
        headers = bearer(await access_token(http))
        event = await create_event(database_of(app))
        other = create_async_engine(database_url)
        async with other.connect() as connection:
            # Another transaction holds the events, then asks for the outbox, which the request
            # has written to before it takes its seat (its last write); the request, waiting
            # longer, is the one rolled back.
            await connection.execute(text("SET deadlock_timeout = '10s'"))
            await connection.execute(text("LOCK TABLE events IN SHARE MODE"))
            registering = asyncio.create_task(
                http.post(f"/api/events/{event.id}/register", json=VISITOR, headers=headers)
            )
            await eventually(lambda: waits_for_events(connection))
            await connection.execute(text("LOCK TABLE outbox_messages IN SHARE MODE"))
            answer = await registering
            await connection.rollback()
        await other.dispose()

        again = await http.post(f"/api/events/{event.id}/register", json=VISITOR, headers=headers)

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/problems/transaction-conflict")
    assert answer.headers["retry-after"] == "1"
    assert again.status_code == 201, again.text
