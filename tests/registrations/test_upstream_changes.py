"""Changes the provider makes to an event reach its visitors (SPEC §4.5 "Upstream changes"),
exactly once however often they are applied and by whom: the sync, again, and the stream
consumer (a real Redis stream) for the same change. Also: a capacity raised upstream offers the
new seats to the waiting list, a lowered one bumps nobody, a closed registration ends the list."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.dependencies import container_of
from app.outbox.models import OutboxMessage
from app.registrations.models import WaitlistEntry
from app.registrations.notices import Notice
from app.sync.generator import generate_events
from app.sync.service import SyncMode
from fakes.provider import FakeProvider
from tests.conftest import database_of, http_client, running_app
from tests.stream.conftest import REDIS_URL, eventually, publish, redis, topic
from tests.support.database import empty_database
from tests.support.metrics import sample
from tests.support.notifications import relay_settings
from tests.support.servers import served_provider
from tests.support.visitors import Session, latest_code, notices_when, sign_in, visitor

__all__ = ["redis", "topic"]  # fixtures


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[FakeProvider]:
    async with served_provider() as fake:
        yield fake


@asynccontextmanager
async def upstream_app(database_url, notifications, provider, topic) -> AsyncIterator[Any]:
    await empty_database(database_url)  # before the relay starts: nothing left queued
    notifications.reset()
    provider.reset()
    settings = relay_settings(
        database_url,
        notifications.url,
        events_provider_url=provider.url,
        broker_url=REDIS_URL,
        provider_events_topic=topic,
    )
    async with running_app(settings) as app, http_client(app) as http:
        yield Upstream(app, http, provider)


class Upstream:
    """The app, and the provider's side of it: what it publishes and how it reaches us."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient, provider: FakeProvider) -> None:
        self.app, self.http, self.provider = app, http, provider

    async def synced(self, *records: dict[str, Any]) -> None:
        self.provider.reset(list(records))
        run = await container_of(self.app).sync.run(SyncMode.ALL)
        assert run is not None
        assert run.status == "success", run.error

    async def streamed(self, redis, topic: str, record: dict[str, Any], result: str) -> None:
        """Publishes `record` and waits until the consumer has `result`ed one more message."""
        before = await self.counted(result)
        await publish(redis, topic, record)
        await eventually(lambda: self._counted_more(result, before))

    async def counted(self, result: str) -> float:
        text = (await self.http.get("/metrics")).text
        return sample(text, "stream_messages_total", result=result)

    async def _counted_more(self, result: str, before: float) -> bool:
        return await self.counted(result) > before

    async def messages(self, topic: Notice) -> int:
        async with database_of(self.app).transaction() as work:
            count = await work.session.scalar(
                select(func.count()).where(OutboxMessage.topic == topic)
            )
        return count or 0


def open_event(seats: int) -> dict[str, Any]:
    [event] = generate_events(1, seed=42)
    start = datetime.now().astimezone() + timedelta(days=30)
    place = {
        "id": "5d129784-6c4b-4b0a-9d3e-1a2b3c4d5e6f",
        "name": "Екатеринбург Арена",
        "city": "Екатеринбург",
        "address": "Репина ул., 5",
        "seats_pattern": f"A1-{seats}",
    }
    return {
        **event,
        "status": "published",
        "place": place,
        "event_time": start.isoformat(),
        "registration_deadline": (start - timedelta(days=1)).isoformat(),
    }


def later(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed_at = datetime.fromisoformat(event["changed_at"]) + timedelta(minutes=1)
    return {**event, "changed_at": changed_at.isoformat(), **fields}


def reseated(event: dict[str, Any], seats: int) -> dict[str, Any]:
    return later(event, place={**event["place"], "seats_pattern": f"A1-{seats}"})


async def test_an_event_cancelled_upstream_cancels_its_visitors_each_told_once(
    database_url, notifications, provider, redis, topic
):
    event = open_event(seats=2)
    async with upstream_app(database_url, notifications, provider, topic) as upstream:
        await upstream.synced(event)
        ivan, maria = await sign_in(upstream.http), await sign_in(upstream.http)
        held = [(await ivan.register(event["id"], visitor(n))).json() for n in range(2)]
        entry = (await maria.join(event["id"], visitor("maria"))).json()

        cancelled = later(event, status="cancelled")
        await upstream.synced(cancelled)
        await upstream.synced(cancelled)
        await upstream.streamed(redis, topic, cancelled, "skipped")
        await upstream.streamed(redis, topic, later(cancelled), "applied")

        for who in (visitor(0), visitor(1), visitor("maria")):
            notices = await notices_when(notifications, who["email"], 1)
            assert any("отменено" in notice for notice in notices)
        messages = await upstream.messages(Notice.EVENT_CANCELLED)
        states = [(await ivan.get(f"/api/registrations/{r['id']}")).json() for r in held]
        waiting = (await maria.get(f"/api/waitlist/{entry['id']}")).json()
        seats = (await ivan.get(f"/api/events/{event['id']}")).json()

    assert messages == 3
    assert [state["status"] for state in states] == ["cancelled", "cancelled"]
    assert waiting["status"] == "expired"
    assert (seats["registrations_count"], seats["waitlist_count"]) == (0, 0)


async def test_a_moved_event_tells_each_active_visitor_once_per_new_time(
    database_url, notifications, provider, redis, topic
):
    event = open_event(seats=5)
    async with upstream_app(database_url, notifications, provider, topic) as upstream:
        await upstream.synced(event)
        ivan = await sign_in(upstream.http)
        pending = (await ivan.register(event["id"], visitor("pending"))).json()
        confirmed = (await ivan.register(event["id"], visitor("confirmed"))).json()
        code = await latest_code(notifications, visitor("confirmed")["email"])
        await ivan.confirm(confirmed["id"], code)
        cancelled = (await ivan.register(event["id"], visitor("cancelled"))).json()
        await ivan.delete(f"/api/registrations/{cancelled['id']}")

        new_time = datetime.fromisoformat(event["event_time"]) + timedelta(days=1)
        moved = later(event, event_time=new_time.isoformat())
        await upstream.synced(moved)
        await upstream.synced(moved)
        await upstream.streamed(redis, topic, moved, "skipped")
        await upstream.streamed(redis, topic, later(moved), "applied")  # same time, newer record
        once = await upstream.messages(Notice.RESCHEDULED)
        moved_again = later(later(moved), event_time=(new_time + timedelta(hours=2)).isoformat())
        await upstream.streamed(redis, topic, moved_again, "applied")
        twice = await upstream.messages(Notice.RESCHEDULED)
        told = await notices_when(notifications, visitor("pending")["email"], 3)
        detail = (await ivan.get(f"/api/registrations/{pending['id']}")).json()

    assert once == 2  # the pending and the confirmed visitor; not the cancelled one
    assert twice == 4
    assert "перенесено" in told[1]
    assert new_time.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC") in told[1]
    assert detail["status"] == "pending"


async def test_a_capacity_raised_upstream_offers_the_new_seat_and_a_lowered_one_bumps_nobody(
    database_url, notifications, provider, topic
):
    event = open_event(seats=1)
    async with upstream_app(database_url, notifications, provider, topic) as upstream:
        await upstream.synced(event)
        ivan, maria = await sign_in(upstream.http), await sign_in(upstream.http)
        first = (await ivan.register(event["id"], visitor("ivan"))).json()
        entry = (await maria.join(event["id"], visitor("maria"))).json()

        raised = reseated(event, 2)
        await upstream.synced(raised)
        offered = (await maria.get(f"/api/waitlist/{entry['id']}")).json()
        await notices_when(notifications, visitor("maria")["email"], 1)

        await upstream.synced(reseated(raised, 1))
        lowered = (await ivan.get(f"/api/events/{event['id']}")).json()
        kept = [
            (await session.get(f"/api/registrations/{registration_id}")).json()["status"]
            for session, registration_id in (
                (ivan, first["id"]),
                (maria, offered["registration_id"]),
            )
        ]
        refused = await _register_someone(upstream.http, event["id"])

    assert offered["status"] == "offered"
    assert (lowered["capacity"], lowered["registrations_count"], lowered["seats_left"]) == (
        1,
        2,
        0,
    )
    assert kept == ["pending", "pending"]
    assert refused.json()["type"].endswith("/event-full")


async def test_registration_closed_upstream_ends_the_waiting_list_at_once(
    database_url, notifications, provider, topic
):
    event = open_event(seats=1)
    async with upstream_app(database_url, notifications, provider, topic) as upstream:
        await upstream.synced(event)
        ivan, maria = await sign_in(upstream.http), await sign_in(upstream.http)
        await ivan.register(event["id"], visitor("ivan"))
        entry = (await maria.join(event["id"], visitor("maria"))).json()
        await upstream.synced(later(event, status="registration_closed"))
        ended = (await maria.get(f"/api/waitlist/{entry['id']}")).json()
        stored = await _stored_entry_status(upstream.app, entry["id"])

    assert ended["status"] == "expired"
    assert stored == "expired"


async def _register_someone(http: httpx.AsyncClient, event_id: str) -> httpx.Response:
    session: Session = await sign_in(http)
    return await session.register(event_id, visitor("late"))


async def _stored_entry_status(app: FastAPI, entry_id: str) -> str:
    async with database_of(app).transaction() as work:
        entry = await work.session.get_one(WaitlistEntry, uuid.UUID(entry_id))
        return entry.stored_status
