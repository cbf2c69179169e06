"""The catalogue's reads are kept and revalidated, and never wrong (SPEC §4.2, issue 14): a page
is served again without SQL while nothing it shows has changed; every kind of write replaces it,
at once on the replica that wrote and within a second on another; time alone (a deadline, a
lapsing hold) replaces it too; ETags give 304s without a query."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.core.database import utcnow
from app.dependencies import container_of
from app.sync.generator import generate_events
from app.sync.service import SyncMode
from fakes.provider import FakeProvider
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.stream.conftest import REDIS_URL, eventually, publish, redis, topic
from tests.support.database import empty_database
from tests.support.events import event_with_seats
from tests.support.servers import served_provider
from tests.support.statements import statements_during
from tests.support.visitors import Session, sign_in, visitor

__all__ = ["redis", "topic"]  # fixtures
PRODUCTION_REFRESH = {"catalogue_version_refresh_seconds": 0.5}


@asynccontextmanager
async def app_with(database_url: str, **settings: Any) -> AsyncIterator[tuple[FastAPI, Session]]:
    """An app over empty tables, and a signed-in session of it."""
    await empty_database(database_url)
    async with (
        running_app(make_settings(database_url, **settings)) as app,
        http_client(app) as http,
    ):
        yield app, await sign_in(http)


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[FakeProvider]:
    async with served_provider() as fake:
        yield fake


async def statements_naming(
    app: FastAPI, request: Awaitable[Any], naming: str = ""
) -> tuple[int, Any]:
    """How many SQL statements (those `naming` a table, if given) the app sent while `request`
    ran, and its answer."""
    sent, response = await statements_during(app, request)
    return sum(naming in statement for statement in sent), response


async def seats_at(session: Session, event_id: object) -> int:
    return (await session.get(f"/api/events/{event_id}")).json()["registrations_count"]


async def test_a_page_read_again_costs_no_sql_and_an_etag_gets_304(database_url):
    async with app_with(database_url, **PRODUCTION_REFRESH) as (app, ivan):
        await event_with_seats(database_of(app))
        first = await ivan.get("/api/events")
        sql, again = await statements_naming(app, ivan.get("/api/events"))
        etag = first.headers["etag"]
        not_modified = await ivan.http.get(
            "/api/events", headers={**ivan.headers, "If-None-Match": f'"other", {etag}'}
        )
        other_page = await ivan.http.get(
            "/api/events?page_size=5", headers={**ivan.headers, "If-None-Match": etag}
        )

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert sql == 0
    assert first.headers["cache-control"] == "private, no-cache"
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == etag
    assert other_page.status_code == 200  # the ETag names another URL


async def test_every_kind_of_write_replaces_the_kept_page_on_the_replica_that_wrote(
    database_url, provider, redis, topic
):
    [record] = generate_events(1, seed=3)
    record |= {"status": "published", "place": None, "name": "Старое имя"}
    start = utcnow() + timedelta(days=3)
    record |= {
        "event_time": start.isoformat(),
        "registration_deadline": (start - timedelta(days=1)).isoformat(),
    }
    provider.reset([record])
    async with app_with(
        database_url,
        events_provider_url=provider.url,
        broker_url=REDIS_URL,
        provider_events_topic=topic,
        **PRODUCTION_REFRESH,
    ) as (app, ivan):
        await container_of(app).sync.run(SyncMode.ALL)
        event_id = record["id"]

        async def name() -> str:
            return (await ivan.get(f"/api/events/{event_id}")).json()["name"]

        seen = [await name()]
        provider.reset([{**record, "name": "Синхронизировано", "changed_at": _later(record, 1)}])
        await container_of(app).sync.run(SyncMode.ALL)
        seen.append(await name())
        await publish(
            redis, topic, {**record, "name": "Из потока", "changed_at": _later(record, 2)}
        )
        await eventually(lambda: _named(ivan, event_id, "Из потока"))
        seen.append(await name())
        before = await seats_at(ivan, event_id)
        registration = (await ivan.register(event_id, visitor(1))).json()
        registered = await seats_at(ivan, event_id)
        await ivan.delete(f"/api/registrations/{registration['id']}")
        cancelled = await seats_at(ivan, event_id)

    assert seen == ["Старое имя", "Синхронизировано", "Из потока"]
    assert (before, registered, cancelled) == (0, 1, 0)


async def test_requests_due_a_version_read_share_one(database_url):
    async with app_with(database_url, **PRODUCTION_REFRESH) as (app, ivan):
        event = await event_with_seats(database_of(app))
        await ivan.register(event.id, visitor(1))  # a local write: the next requests must read
        version_reads, pages = await statements_naming(
            app,
            asyncio.gather(*(ivan.get(f"/api/events/{event.id}") for _ in range(20))),
            naming="catalogue_version",
        )

    assert version_reads == 1
    assert {page.json()["registrations_count"] for page in pages} == {1}


async def test_requests_for_a_page_not_kept_share_one_read_of_it(database_url):
    async with app_with(database_url, **PRODUCTION_REFRESH) as (app, ivan):
        event = await event_with_seats(database_of(app))
        await ivan.get("/api/events")  # kept, then out of date with the write that follows
        await ivan.register(event.id, visitor(1))
        page_reads, pages = await statements_naming(
            app,
            asyncio.gather(*(ivan.get("/api/events") for _ in range(20))),
            naming="JOIN venues",
        )

    assert page_reads == 1
    assert {page.json()["results"][0]["registrations_count"] for page in pages} == {1}


async def test_a_lapsing_hold_and_a_passing_deadline_replace_the_page_without_any_write(
    database_url,
):
    async with app_with(
        database_url,
        registration_hold_seconds=1,
        hold_sweep_interval_seconds=3600,
        **PRODUCTION_REFRESH,
    ) as (app, ivan):
        closing = utcnow() + timedelta(seconds=1.5)
        event = await event_with_seats(database_of(app), registration_deadline=closing)
        await ivan.register(event.id, visitor(1))
        held = (await ivan.get(f"/api/events/{event.id}")).json()
        listed_open = (await ivan.get("/api/events?status=open")).json()["count"]
        await asyncio.sleep(max((closing - utcnow()).total_seconds(), 0) + 0.3)
        later = (await ivan.get(f"/api/events/{event.id}")).json()
        listed_open_later = (await ivan.get("/api/events?status=open")).json()["count"]

    assert (held["registrations_count"], held["status"], listed_open) == (1, "open", 1)
    assert (later["registrations_count"], later["status"], listed_open_later) == (0, "closed", 0)


@pytest.mark.postgresql_only("two instances share PostgreSQL")
async def test_a_write_on_one_instance_replaces_the_page_kept_by_another(database_url):
    async with (
        app_with(database_url, **PRODUCTION_REFRESH) as (reader_app, reader),
        running_app(make_settings(database_url, **PRODUCTION_REFRESH)) as writer_app,
        http_client(writer_app) as writer_http,
    ):
        writer = Session(writer_http, reader.headers)
        event = await event_with_seats(database_of(reader_app))
        etag = (await reader.get(f"/api/events/{event.id}")).headers["etag"]
        revalidated_elsewhere = await writer_http.get(
            f"/api/events/{event.id}", headers={**reader.headers, "If-None-Match": etag}
        )
        await writer.register(event.id, visitor(1))

        await eventually(lambda: _seats_are(reader, event.id, 1), timeout=5)
        after = await reader.http.get(
            f"/api/events/{event.id}", headers={**reader.headers, "If-None-Match": etag}
        )

    assert revalidated_elsewhere.status_code == 304  # the token is the same everywhere
    assert after.status_code == 200
    assert after.headers["etag"] != etag


@pytest.mark.postgresql_only("the trigram index is PostgreSQL's")
async def test_the_name_search_uses_the_trigram_index(database_url, db):
    async with db.reading() as connection:
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await connection.execute(
            text("EXPLAIN SELECT id FROM events WHERE name_folded LIKE :pattern"),
            {"pattern": "%конференция%"},
        )
        lines = [row[0] for row in plan]

    assert any("ix_events_name_folded_trgm" in line for line in lines), lines


def _later(record: dict[str, Any], minutes: int) -> str:
    changed = datetime.fromisoformat(record["changed_at"]) + timedelta(minutes=minutes)
    return changed.isoformat()


async def _named(session: Session, event_id: str, name: str) -> bool:
    return (await session.get(f"/api/events/{event_id}")).json()["name"] == name


async def _seats_are(session: Session, event_id: object, seats: int) -> bool:
    return await seats_at(session, event_id) == seats
