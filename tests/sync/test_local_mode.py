"""Local mode's events (SPEC §3): in development with no EVENTS_PROVIDER_URL the sync reads
generated open events; and incremental runs continue from their own source's last success."""

from datetime import UTC, datetime, timedelta

import pytest

from app.dependencies import container_of
from app.sync.generator import generate_events
from app.sync.local import LOCAL_EVENTS, GeneratedEvents
from app.sync.service import SyncMode, SyncService
from fakes.provider import FIXTURE, fixture_events, moved_to_now
from tests.conftest import client_of, database_of, make_settings, running_app
from tests.support.auth import bearer, staff_token
from tests.sync.conftest import finished_runs


def local_settings(database_url: str, **overrides: object):
    return make_settings(
        database_url,
        environment="development",
        events_provider_url=None,
        notifications_url=None,
        **overrides,
    )


async def test_the_start_up_log_says_which_local_modes_are_on(database_url, caplog):
    async with running_app(local_settings(database_url)):
        pass
    async with running_app(make_settings(database_url)):
        pass

    local = [
        record.getMessage() for record in caplog.records if "local mode" in record.getMessage()
    ]
    assert len(local) == 2
    assert any(line.startswith("local mode: EVENTS_PROVIDER_URL is empty") for line in local)
    assert any(line.startswith("local mode: NOTIFICATIONS_URL is empty") for line in local)


async def test_a_sync_in_local_mode_brings_open_events_to_register_for(database_url):
    async with running_app(local_settings(database_url)) as app, client_of(app) as http:
        headers = bearer(await staff_token(http, database_of(app)))
        assert (await http.post("/api/sync/trigger", headers=headers)).status_code == 202
        [run] = await finished_runs(http, headers)
        listed = (await http.get("/api/events?page_size=100", headers=headers)).json()

    assert (run["status"], run["source"], run["created"]) == (
        "success",
        "local:generated",
        LOCAL_EVENTS,
    )
    assert listed["count"] == LOCAL_EVENTS
    now = datetime.now(UTC)
    for event in listed["results"]:
        assert event["status"] == "open"
        assert datetime.fromisoformat(event["registration_deadline"]) > now
        assert event["capacity"]
        assert event["seats_left"] == event["capacity"]
        assert event["venue"]["city"]
    assert any(event["name"].isascii() for event in listed["results"])
    assert not all(event["name"].isascii() for event in listed["results"])


async def test_local_events_are_the_same_all_day():
    first = [page async for page in GeneratedEvents().pages()]
    again = [page async for page in GeneratedEvents().pages(datetime.now(UTC).date())]
    tomorrow = [
        page async for page in GeneratedEvents().pages(datetime.now(UTC).date() + timedelta(days=1))
    ]

    assert first == again
    assert tomorrow == []


async def test_after_a_switch_of_source_the_first_incremental_run_is_full(
    sync_service, sync_app, provider
):
    container = container_of(sync_app)
    local = SyncService(
        container.database, GeneratedEvents(), container.provider_updates, container.tracer
    )
    await local.run(SyncMode.INCREMENTAL)
    provider.reset(generate_events(30, seed=40, now=datetime.now(UTC) - timedelta(days=3)))

    switched = await sync_service.run(SyncMode.INCREMENTAL)
    back = await local.run(SyncMode.INCREMENTAL)

    assert (switched.status, switched.mode, switched.changed_since) == ("success", "all", None)
    assert switched.created == 30
    assert switched.source == provider.url
    assert (back.mode, back.changed_since) == ("incremental", datetime.now(UTC).date())


@pytest.mark.skipif(not FIXTURE.exists(), reason=f"the shared fixture is not at {FIXTURE}")
def test_the_fake_provider_serves_the_fixture_as_of_today():
    now = datetime.now(UTC)
    events = moved_to_now(fixture_events(), now)

    assert max(datetime.fromisoformat(event["changed_at"]) for event in events) == now
    still_open = [
        event
        for event in events
        if event["status"] == "published"
        and datetime.fromisoformat(event["registration_deadline"]) > now
    ]
    assert len(still_open) == 116
