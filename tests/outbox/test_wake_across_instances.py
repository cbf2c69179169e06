"""A message written through one app instance wakes the relay of another (PostgreSQL
LISTEN/NOTIFY), also after the listening connection was cut. The relay that sends polls only
every ten minutes, so that only the notification can explain a delivery within the test's
patience; the instance that writes runs no relay at all."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from app.dependencies import container_of
from app.outbox.models import OutboxMessage, OutboxStatus
from app.outbox.service import OUTBOX_CHANNEL, OutboxService
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.auth import access_token, bearer
from tests.support.database import empty_database
from tests.support.events import create_event
from tests.support.notifications import eventually, new_ids, relay_settings

LISTENERS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name LIKE 'listener:%'"
)


@asynccontextmanager
async def two_instances(database_url: str, notifications_url: str) -> AsyncIterator[tuple]:
    """The relaying instance (polling every ten minutes) and the writing one (no relay)."""
    await empty_database(database_url)
    relaying = relay_settings(database_url, notifications_url, outbox_poll_interval_seconds=600)
    async with running_app(relaying) as sender, running_app(make_settings(database_url)) as writer:
        await eventually(container_of(sender).listener.connected.is_set)
        async with http_client(writer) as http:
            yield sender, writer, http


class Visitor:
    def __init__(self, http: httpx.AsyncClient, writer: FastAPI) -> None:
        self.http, self.writer = http, writer

    async def register(self, n: int) -> None:
        if n == 0:
            self.headers = bearer(await access_token(self.http))
            self.event = await create_event(database_of(self.writer))
        response = await self.http.post(
            f"/api/events/{self.event.id}/register",
            json={"full_name": "Иван", "email": f"ivan{n}@example.com"},
            headers=self.headers,
        )
        assert response.status_code == 201


@pytest.mark.postgresql_only("on SQLite there is one process, whose relay is woken in-process")
async def test_a_message_written_through_one_instance_is_sent_by_the_relay_of_another(
    database_url, notifications
):
    notifications.reset()
    woken: list[None] = []
    async with two_instances(database_url, notifications.url) as (sender, writer, http):
        container_of(sender).listener.subscribe(OUTBOX_CHANNEL, lambda: woken.append(None))
        visitor = Visitor(http, writer)
        for n in range(3):
            before = len(woken)
            await visitor.register(n)

            await eventually(lambda before=before: len(woken) > before, timeout=30)
            await eventually(lambda n=n: len(notifications.delivered_ids) == n + 1, timeout=30)


@pytest.mark.postgresql_only("on SQLite there is one process, whose relay is woken in-process")
async def test_the_listener_listens_again_after_its_connection_was_cut(database_url, notifications):
    notifications.reset()
    async with two_instances(database_url, notifications.url) as (sender, writer, http):
        database = database_of(writer)
        async with database.reading() as connection:
            cut = set((await connection.exec_driver_sql(LISTENERS)).scalars())
            await connection.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM ({LISTENERS}) AS listeners"  # noqa: S608
            )

        async def listening_again() -> bool:
            async with database.reading() as connection:
                pids = set((await connection.exec_driver_sql(LISTENERS)).scalars())
            return bool(pids - cut) and container_of(sender).listener.connected.is_set()

        await eventually(listening_again, timeout=30)
        await Visitor(http, writer).register(0)

        await eventually(lambda: len(notifications.delivered_ids) == 1, timeout=30)

    assert cut


@pytest.mark.postgresql_only("on SQLite there is one process, whose relay is woken in-process")
async def test_a_dead_message_requeued_through_one_instance_is_sent_by_the_relay_of_another(
    database_url, notifications
):
    notifications.reset()
    async with two_instances(database_url, notifications.url) as (_, writer, _):
        [message_id] = new_ids(1)
        async with database_of(writer).transaction() as work:
            await work.session.execute(
                insert(OutboxMessage).values(
                    id=uuid.UUID(message_id),
                    topic="test",
                    payload={"email": "v@example.com", "message": "Сообщение"},
                    status=OutboxStatus.DEAD,
                )
            )
        async with database_of(writer).transaction() as work:
            assert await OutboxService(work).requeue_dead() == 1

        await eventually(lambda: notifications.delivered_ids == {message_id}, timeout=30)
