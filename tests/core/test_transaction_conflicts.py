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


async def waits_for_registrations(connection: AsyncConnection) -> bool:
    waiting = await connection.scalar(
        text(
            "SELECT count(*) FROM pg_locks"
            " WHERE NOT granted AND relation = 'registrations'::regclass"
        )
    )
    return bool(waiting)


async def test_a_request_that_loses_a_deadlock_is_told_to_try_again(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writes one transaction at a time: none can deadlock")
    async with client_of(app) as http:
        headers = bearer(await access_token(http))
        event = await create_event(database_of(app))
        other = create_async_engine(database_url)
        async with other.connect() as connection:
            # Another transaction holds the registrations, then asks for the event, which the
            # request has locked first; the request, waiting longer, is the one rolled back.
            await connection.execute(text("SET deadlock_timeout = '10s'"))
            await connection.execute(text("LOCK TABLE registrations IN SHARE MODE"))
            registering = asyncio.create_task(
                http.post(f"/api/events/{event.id}/register", json=VISITOR, headers=headers)
            )
            await eventually(lambda: waits_for_registrations(connection))
            await connection.execute(
                text("SELECT id FROM events WHERE id = :id FOR UPDATE"), {"id": event.id}
            )
            answer = await registering
            await connection.rollback()
        await other.dispose()

        again = await http.post(f"/api/events/{event.id}/register", json=VISITOR, headers=headers)

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/problems/transaction-conflict")
    assert answer.headers["retry-after"] == "1"
    assert again.status_code == 201, again.text
