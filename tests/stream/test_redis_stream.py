"""Provider changes published to a real Redis stream reach GET /api/events/{id}, on both
databases, through the consumer that the app runs in its lifespan."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.core.metrics import Metrics
from app.core.tracing import NO_TRACER
from app.dependencies import container_of
from app.flows import ProviderUpdates
from app.registrations.lifecycle import surroundings_for
from app.stream.consumer import GROUP
from app.stream.models import ParkedStreamMessage
from app.stream.service import Delivery, Outcome, StreamService
from app.sync.generator import generate_events
from app.sync.service import SyncMode
from fakes.provider import EVENTS_PATH, FakeProvider
from tests.conftest import make_settings
from tests.stream.conftest import consuming_app, eventually, pending, publish
from tests.support.metrics import sample
from tests.support.servers import serving


def record(**fields: Any) -> dict[str, Any]:
    [event] = generate_events(1, seed=6)
    return {**event, **fields}


def later(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed_at = datetime.fromisoformat(event["changed_at"]) + timedelta(minutes=1)
    return {**event, "changed_at": changed_at.isoformat(), **fields}


async def test_a_published_event_is_created_updated_and_its_status_changed(
    redis, topic, stream_app
):
    created = record(name="Python в продакшене", status="published")
    await publish(redis, topic, created)
    shown = await eventually(lambda: stream_app.event(created["id"]))
    assert (shown["name"], shown["provider_status"]) == ("Python в продакшене", "published")

    renamed = later(created, name="Python in production")

    async def renamed_shown():
        event = await stream_app.event(created["id"])
        return event["name"] == "Python in production"

    await publish(redis, topic, renamed)
    await eventually(renamed_shown)

    cancelled = later(renamed, status="cancelled")

    async def cancelled_shown():
        event = await stream_app.event(created["id"])
        return event["provider_status"] == "cancelled" and event

    await publish(redis, topic, cancelled)
    shown = await eventually(cancelled_shown)
    assert shown["name"] == "Python in production"
    assert shown["status"] == "closed"
    assert await stream_app.counted("applied") == 3
    assert await pending(redis, topic) == 0
    assert await stream_app.metric("stream_lag_messages") == 0


async def test_an_older_duplicate_after_a_newer_message_changes_nothing(
    database_url, redis, topic, database
):
    old = record(name="old name")
    new = later(old, name="new name")
    await publish(redis, topic, new)
    await publish(redis, topic, old)
    await publish(redis, topic, new)

    # Reclaiming after the default 30 s, not the fixtures' 0.5 s: on a loaded machine an entry
    # still queued behind the first could be delivered again, and counted a third "skipped".
    async with consuming_app(database_url, topic, stream_reclaim_idle_seconds=30) as stream_app:

        async def both_skipped():
            return await stream_app.counted("skipped") == 2

        await eventually(both_skipped)
        assert await stream_app.counted("applied") == 1
        assert (await stream_app.event(new["id"]))["name"] == "new name"


async def test_an_unreadable_message_is_parked_and_the_next_one_applied(
    redis, topic, stream_app, database
):
    not_json = await publish(redis, topic, "{not json")
    nameless = await publish(redis, topic, {"id": record()["id"]})
    good = record()
    await publish(redis, topic, good)

    await eventually(lambda: stream_app.event(good["id"]))
    async with database.transaction() as work:
        parked = (await work.session.execute(select(ParkedStreamMessage))).scalars().all()
    assert sorted((row.position, row.payload, row.error) for row in parked) == sorted(
        [
            (not_json, "{not json", "not JSON"),
            (nameless, f'{{"id": "{good["id"]}"}}', "not an event record (SPEC §6)"),
        ]
    )
    assert {row.topic for row in parked} == {topic}
    assert await stream_app.counted("parked") == 2
    assert await stream_app.counted("applied") == 1
    assert await pending(redis, topic) == 0


async def test_a_replay_after_a_crash_between_commit_and_ack_is_harmless(
    database_url, redis, topic, database
):
    """A consumer read the entry and committed it, then died before its XACK: the entry stays
    pending under the dead consumer's name until a live one takes it over and acks it."""
    event = record(name="applied before the crash")
    entry = await publish(redis, topic, event)
    await redis.xreadgroup(GROUP, "crashed-replica", {topic: ">"}, count=1)
    settings = make_settings(database_url)
    metrics = Metrics()
    updates = ProviderUpdates(surroundings_for(settings, database, asyncio.Event(), metrics))
    await StreamService(database, updates, metrics, NO_TRACER).handle(
        Delivery(topic, entry, (await redis.xrange(topic))[0][1][b"__data__"], None)
    )
    assert await pending(redis, topic) == 1

    async with consuming_app(database_url, topic) as stream_app:

        async def replayed():
            return await pending(redis, topic) == 0 and await stream_app.counted("skipped")

        assert await eventually(replayed) == 1
        assert await stream_app.counted("applied") == 0
        assert (await stream_app.event(event["id"]))["name"] == "applied before the crash"


async def test_the_sync_afterwards_finds_nothing_to_change(database_url, redis, topic, database):
    events = generate_events(12, seed=66)
    provider = FakeProvider(events=events)
    async with serving(provider.app) as base_url:
        settings = {"events_provider_url": base_url + EVENTS_PATH}
        async with consuming_app(database_url, topic, **settings) as stream_app:
            for event in events:
                await publish(redis, topic, event)

            async def all_applied():
                return await stream_app.counted("applied") == len(events)

            await eventually(all_applied)
            run = await container_of(stream_app.app).sync.run(SyncMode.ALL)
    assert (run.status, run.created, run.updated, run.unchanged) == ("success", 0, 0, 12)


async def test_a_database_outage_leaves_the_message_pending_instead_of_parking_it(
    redis, topic, unreachable_database_url, caplog
):
    await publish(redis, topic, record())
    async with consuming_app(unreachable_database_url, topic) as stream_app:

        async def delivered_twice():
            consumers = await redis.xpending_range(topic, GROUP, "-", "+", 1)
            return consumers and consumers[0]["times_delivered"] >= 2

        await eventually(delivered_twice)
        counted = container_of(stream_app.app).metrics.render().decode()
        assert all(sample(counted, "stream_messages_total", result=kind) == 0 for kind in Outcome)
        assert await pending(redis, topic) == 1
        assert not [r for r in caplog.records if "parked" in r.getMessage()]

    # Stopped with the entry pending under its name, it stays in the group for a live
    # consumer to reclaim the entry from.
    [consumer] = await redis.xinfo_consumers(topic, GROUP)
    assert consumer["pending"] == 1


async def test_a_consumer_that_stops_with_nothing_pending_leaves_the_group(
    database_url, redis, topic
):
    """Each process consumes under a name of its own: without leaving, every restart of every
    replica would add one to the group for ever."""
    event = record()
    await publish(redis, topic, event)
    async with consuming_app(database_url, topic) as stream_app:
        await eventually(lambda: stream_app.event(event["id"]))
        assert len(await redis.xinfo_consumers(topic, GROUP)) == 1

    assert await redis.xinfo_consumers(topic, GROUP) == []
