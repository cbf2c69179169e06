"""Sync runs against the fake events-provider over real HTTP, on both databases (SPEC §6)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core.database import utcnow
from app.events.models import Event, Venue
from app.sync.generator import generate_events
from app.sync.models import Lease, SyncRun
from app.sync.service import SYNC_LEASE, SyncMode
from fakes.provider import FIXTURE, FakeProvider, fixture_events
from tests.conftest import database_of
from tests.support.servers import serving
from tests.sync.conftest import PROVIDER_TOKEN

needs_fixture = pytest.mark.skipif(
    not FIXTURE.exists(), reason=f"the real provider fixture is not at {FIXTURE} (outside CI)"
)


async def stored_events(sync_app) -> dict[str, Event]:
    async with database_of(sync_app).transaction() as work:
        events = (await work.session.execute(select(Event))).scalars().all()
    return {str(event.id): event for event in events}


def counts(run: SyncRun) -> tuple[int, int, int, int]:
    return run.created, run.updated, run.unchanged, run.skipped


def changed(event: dict, **fields) -> dict:
    return {**event, "changed_at": datetime.now(UTC).isoformat(), **fields}


@needs_fixture
async def test_a_full_sync_stores_the_270_real_events(sync_service, provider, sync_app):
    real = fixture_events()
    provider.reset(real)
    run = await sync_service.run(SyncMode.ALL)
    assert (run.status, run.mode, run.error) == ("success", "all", None)
    assert counts(run) == (270, 0, 0, 0)
    stored = await stored_events(sync_app)
    assert len(stored) == 270
    sample = real[0]
    event = stored[sample["id"]]
    assert event.name == sample["name"]
    assert event.event_time == datetime.fromisoformat(sample["event_time"])
    assert event.provider_status == sample["status"]
    async with database_of(sync_app).transaction() as work:
        venue = await work.session.get(Venue, uuid.UUID(sample["place"]["id"]))
    assert venue is not None
    assert venue.seats_pattern == sample["place"]["seats_pattern"]
    assert event.capacity == venue.capacity is not None
    assert all(request.authorization == f"Bearer {PROVIDER_TOKEN}" for request in provider.requests)
    assert "changed_at" not in provider.requests[0].url


@needs_fixture
async def test_a_second_full_sync_leaves_every_event_untouched(sync_service, provider, sync_app):
    provider.reset(fixture_events())
    await sync_service.run(SyncMode.ALL)
    before = {id_: event.synced_at for id_, event in (await stored_events(sync_app)).items()}
    run = await sync_service.run(SyncMode.ALL)
    assert counts(run) == (0, 0, 270, 0)
    after = {id_: event.synced_at for id_, event in (await stored_events(sync_app)).items()}
    assert after == before


async def test_an_incremental_sync_applies_only_what_changed(sync_service, provider, sync_app):
    events = generate_events(60, seed=1, now=datetime.now(UTC) - timedelta(days=3))
    provider.reset(events)
    first = await sync_service.run(SyncMode.INCREMENTAL)
    assert (first.mode, first.changed_since, counts(first)) == ("all", None, (60, 0, 0, 0))

    renamed = [changed(event, name=f"Переименовано {i}") for i, event in enumerate(events[:3])]
    restatused = changed(events[3], status="cancelled")
    added = [changed(event) for event in generate_events(2, seed=2)]
    for event in [*renamed, restatused, *added]:
        provider.upsert(event)
    provider.requests.clear()

    run = await sync_service.run(SyncMode.INCREMENTAL)
    assert (run.status, run.mode, run.changed_since) == (
        "success",
        "incremental",
        first.started_at.date(),
    )
    assert counts(run) == (2, 4, 0, 0)
    assert f"changed_at={first.started_at.date().isoformat()}" in provider.requests[0].url
    stored = await stored_events(sync_app)
    assert len(stored) == 62
    assert stored[renamed[0]["id"]].name == "Переименовано 0"
    assert stored[restatused["id"]].provider_status == "cancelled"


async def test_an_older_record_never_overwrites_a_newer_one(sync_service, provider, sync_app):
    [event] = generate_events(1, seed=3)
    provider.reset([event])
    await sync_service.run(SyncMode.ALL)
    stale = {**event, "name": "stale", "changed_at": "2020-01-01T00:00:00+00:00"}
    provider.reset([stale])
    run = await sync_service.run(SyncMode.ALL)
    assert counts(run) == (0, 0, 1, 0)
    assert (await stored_events(sync_app))[event["id"]].name == event["name"]


async def test_date_mode_asks_for_changes_since_that_date(sync_service, provider, sync_app):
    now = datetime.now(UTC)
    old = generate_events(5, seed=4, now=now - timedelta(days=200))
    recent = [changed(event) for event in generate_events(3, seed=5)]
    provider.reset(old + recent)
    since = (now - timedelta(days=1)).date()
    run = await sync_service.run(SyncMode.DATE, since)
    assert (run.mode, run.changed_since, counts(run)) == ("date", since, (3, 0, 0, 0))
    assert f"changed_at={since.isoformat()}" in provider.requests[0].url
    assert set(await stored_events(sync_app)) == {event["id"] for event in recent}


async def test_unreadable_records_are_skipped_and_counted(sync_service, provider):
    provider.reset(generate_events(25, seed=6))
    provider.behaviour.malformed_record = True
    run = await sync_service.run(SyncMode.ALL)
    assert (run.status, counts(run)) == ("success", (25, 0, 0, 3))


async def test_a_partial_place_keeps_what_a_full_record_said(sync_service, provider, sync_app):
    [event] = [e for e in generate_events(40, seed=7) if e["place"] and e["place"].get("city")][:1]
    provider.reset([event])
    await sync_service.run(SyncMode.ALL)
    partial = {"id": event["place"]["id"], "name": "Новое имя"}
    provider.reset([changed(event, place=partial)])
    await sync_service.run(SyncMode.ALL)
    async with database_of(sync_app).transaction() as work:
        venue = await work.session.get_one(Venue, uuid.UUID(partial["id"]))
    assert (venue.name, venue.city) == ("Новое имя", event["place"]["city"])


async def test_transient_provider_errors_are_retried(sync_service, provider):
    provider.reset(generate_events(15, seed=8))
    provider.behaviour.fail_next = 2
    provider.behaviour.fail_status = 429
    provider.behaviour.retry_after = "0"
    run = await sync_service.run(SyncMode.ALL)
    assert (run.status, counts(run)) == ("success", (15, 0, 0, 0))
    assert len(provider.requests) == 4


async def test_a_provider_failing_mid_run_keeps_what_was_applied(sync_service, provider, sync_app):
    events = generate_events(270, seed=9, now=datetime.now(UTC) - timedelta(days=2))
    provider.reset(events)
    provider.behaviour.fail_after_pages = 12
    failed = await sync_service.run(SyncMode.INCREMENTAL)
    assert failed.status == "failed"
    assert "500 after 3 attempts" in failed.error
    assert counts(failed) == (120, 0, 0, 0)
    assert len(await stored_events(sync_app)) == 120

    provider.behaviour.fail_after_pages = None
    caught_up = await sync_service.run(SyncMode.INCREMENTAL)
    assert (caught_up.status, caught_up.mode) == ("success", "all")  # no success before it
    assert counts(caught_up) == (150, 0, 120, 0)
    assert len(await stored_events(sync_app)) == 270


async def test_the_next_run_after_a_failure_starts_from_the_last_success(sync_service, provider):
    provider.reset(generate_events(10, seed=10))
    success = await sync_service.run(SyncMode.ALL)
    provider.behaviour.fail_next = 99
    assert (await sync_service.run(SyncMode.INCREMENTAL)).status == "failed"
    provider.behaviour.fail_next = 0
    run = await sync_service.run(SyncMode.INCREMENTAL)
    assert (run.status, run.changed_since) == ("success", success.started_at.date())


async def test_a_next_link_to_another_host_is_refused_and_gets_no_token(sync_service, provider):
    thief = FakeProvider()
    async with serving(thief.app) as elsewhere:
        provider.reset(generate_events(30, seed=11))
        provider.behaviour.foreign_next = f"{elsewhere}/api/events/?cursor=bz0xMA=="
        run = await sync_service.run(SyncMode.ALL)
    assert run.status == "failed"
    assert "refused a next link to another origin" in run.error
    assert thief.requests == []
    assert counts(run) == (10, 0, 0, 0)


async def test_a_next_link_that_repeats_is_refused(sync_service, provider):
    provider.reset(generate_events(30, seed=12))
    provider.behaviour.repeat_next = True
    run = await sync_service.run(SyncMode.ALL)
    assert (run.status, run.error) == ("failed", "refused a next link that repeats an earlier page")
    assert len(provider.requests) == 1


async def test_two_runs_started_at_once_one_runs_one_skips(sync_service, provider, sync_app):
    provider.reset(generate_events(30, seed=13))
    provider.behaviour.delay_seconds = 0.05
    results = await asyncio.gather(*(sync_service.run(SyncMode.ALL) for _ in range(2)))
    assert sorted(result is None for result in results) == [False, True]
    async with database_of(sync_app).transaction() as work:
        assert await work.session.scalar(select(func.count()).select_from(SyncRun)) == 1
        assert await work.session.get(Lease, SYNC_LEASE) is None  # released at the end


async def test_a_live_lease_makes_a_run_skip(sync_service, provider, sync_app):
    await hold_lease(sync_app, expires_at=utcnow() + timedelta(minutes=1))
    assert await sync_service.run(SyncMode.ALL) is None
    assert provider.requests == []


async def test_the_lease_of_a_dead_holder_is_taken_over(sync_service, provider, sync_app):
    async with database_of(sync_app).transaction() as work:
        work.session.add(
            SyncRun(mode="all", status="running", started_at=utcnow() - timedelta(hours=1))
        )
    await hold_lease(sync_app, expires_at=utcnow() - timedelta(seconds=1))
    provider.reset(generate_events(5, seed=14))
    run = await sync_service.run(SyncMode.ALL)
    assert run.status == "success"
    async with database_of(sync_app).transaction() as work:
        runs = (await work.session.execute(select(SyncRun).order_by(SyncRun.id))).scalars().all()
    assert [(r.status, r.error) for r in runs] == [
        ("failed", "abandoned: its holder stopped renewing the lease"),
        ("success", None),
    ]


async def hold_lease(sync_app, *, expires_at: datetime) -> None:
    async with database_of(sync_app).transaction() as work:
        work.session.add(
            Lease(name=SYNC_LEASE, holder="a-replica-that-died", expires_at=expires_at)
        )
