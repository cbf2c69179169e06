"""`events-face sync-events` and `cleanup-events`, run as real processes on both databases."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.core.database import utcnow
from app.events.models import Event
from app.sync.generator import generate_events
from tests.conftest import database_of, make_settings, running_app
from tests.support.events import create_event
from tests.support.processes import child_environment, run_cli
from tests.sync.conftest import PROVIDER_TOKEN


def cli_environment(database_url: str, provider_url: str = "http://127.0.0.1:9/") -> dict[str, str]:
    return child_environment(
        DATABASE_URL=database_url,
        EVENTS_PROVIDER_URL=provider_url,
        EVENTS_PROVIDER_TOKEN=PROVIDER_TOKEN,
        EVENT_RETENTION_DAYS="7",
    )


async def test_sync_events_prints_a_summary_and_exits_0(
    database_url, provider, sync_client, tmp_path
):
    provider.reset(generate_events(23, seed=30))
    env = cli_environment(database_url, provider.url)
    code, stdout, _ = await run_cli("sync-events", "--all", env=env, cwd=tmp_path)
    assert code == 0
    [line] = stdout.splitlines()
    assert "success" in line
    assert f"source={provider.url} mode=all" in line  # where it synced from, no token
    assert "created=23" in line

    code, stdout, _ = await run_cli("sync-events", "--date", "2020-01-01", env=env, cwd=tmp_path)
    assert code == 0
    assert "mode=date changed_since=2020-01-01 created=0 updated=0 unchanged=23" in stdout
    assert "changed_at=2020-01-01" in provider.requests[-1].url


async def test_a_failed_sync_exits_1_with_the_error(database_url, provider, sync_client, tmp_path):
    provider.behaviour.fail_next = 1
    provider.behaviour.fail_status = 403
    code, stdout, _ = await run_cli(
        "sync-events", env=cli_environment(database_url, provider.url), cwd=tmp_path
    )
    assert code == 1
    assert "failed" in stdout
    assert "error=the provider answered 403" in stdout
    assert PROVIDER_TOKEN not in stdout


async def test_sync_events_refuses_a_malformed_date(database_url, tmp_path):
    code, _, stderr = await run_cli(
        "sync-events", "--date", "01.03.2026", env=cli_environment(database_url), cwd=tmp_path
    )
    assert code == 2
    assert "not a date (YYYY-MM-DD)" in stderr


async def test_cleanup_deletes_only_events_ended_long_ago(
    database_url, sync_app, sync_client, tmp_path
):
    database = database_of(sync_app)
    now = utcnow()
    await create_event(database, name="long past", event_time=now - timedelta(days=10))
    await create_event(database, name="recent", event_time=now - timedelta(days=3))
    await create_event(database, name="coming", event_time=now + timedelta(days=3))
    await create_event(database, name="timeless", event_time=None)

    env = cli_environment(database_url)
    code, stdout, _ = await run_cli("cleanup-events", env=env, cwd=tmp_path)
    assert (code, stdout.strip()) == (0, "deleted 1 events that ended more than 7 days ago")
    assert await names(database) == ["coming", "recent", "timeless"]

    code, stdout, _ = await run_cli("cleanup-events", "--days", "1", env=env, cwd=tmp_path)
    assert (code, await names(database)) == (0, ["coming", "timeless"])


async def names(database) -> list[str]:
    async with database.transaction() as work:
        return sorted((await work.session.execute(select(Event.name))).scalars())


async def test_the_app_cleans_up_when_it_starts(database_url, sync_app, sync_client):
    database = database_of(sync_app)
    await create_event(database, name="long past", event_time=utcnow() - timedelta(days=30))
    async with running_app(make_settings(database_url, event_retention_days=7)):
        async with asyncio.timeout(10):
            while await names(database):  # noqa: ASYNC110 - polling another component
                await asyncio.sleep(0.05)
