"""Staff-only sync endpoints, and the periodic sync inside the app (SPEC §4.4, §7)."""

import asyncio
import math

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.sync.generator import generate_events
from app.sync.service import SyncMode
from tests.conftest import database_of, make_settings, running_app
from tests.support.auth import access_token, bearer, staff_token
from tests.support.metrics import sample
from tests.sync.conftest import PROVIDER_TOKEN, finished_runs


async def test_staff_trigger_a_run_and_see_it_finish(sync_client, sync_app, provider):
    provider.reset(generate_events(25, seed=20))
    headers = bearer(await staff_token(sync_client, database_of(sync_app)))
    response = await sync_client.post("/api/sync/trigger", headers=headers)
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    [run] = await finished_runs(sync_client, headers)
    assert run["id"] == run_id
    assert (run["status"], run["mode"], run["created"], run["error"]) == (
        "success",
        "all",
        25,
        None,
    )
    listed = await sync_client.get("/api/events", headers=headers)
    assert listed.json()["count"] == 25


async def test_a_trigger_while_a_run_is_going_is_409(sync_client, sync_app, provider):
    provider.reset(generate_events(40, seed=21))
    provider.behaviour.delay_seconds = 0.1
    headers = bearer(await staff_token(sync_client, database_of(sync_app)))
    first = await sync_client.post("/api/sync/trigger", headers=headers)
    second = await sync_client.post("/api/sync/trigger", headers=headers)
    assert (first.status_code, second.status_code) == (202, 409)
    assert second.headers["content-type"] == "application/problem+json"
    await finished_runs(sync_client, headers)


async def test_runs_are_listed_newest_first(sync_client, sync_app, provider):
    provider.reset(generate_events(3, seed=22))
    headers = bearer(await staff_token(sync_client, database_of(sync_app)))
    for _ in range(3):
        await sync_client.post("/api/sync/trigger", headers=headers)
        await finished_runs(sync_client, headers)
    runs = (await sync_client.get("/api/sync/runs?limit=2", headers=headers)).json()
    assert len(runs) == 2
    assert runs[0]["id"] > runs[1]["id"]
    assert runs[0]["mode"] == "incremental"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/sync/trigger"), ("GET", "/api/sync/runs")]
)
async def test_sync_endpoints_are_staff_only(sync_client, method, path):
    assert (await sync_client.request(method, path)).status_code == 401
    headers = bearer(await access_token(sync_client, "visitor"))
    assert (await sync_client.request(method, path, headers=headers)).status_code == 403


async def test_the_app_syncs_periodically_and_survives_failures(
    database_url, provider, sync_client
):
    """sync_client only empties the tables here; the app under test is a second one."""
    provider.reset(generate_events(12, seed=23))
    provider.behaviour.fail_next = 1
    provider.behaviour.fail_status = 401  # not retried: the first run fails at once
    settings = make_settings(
        database_url,
        events_provider_url=provider.url,
        events_provider_token=PROVIDER_TOKEN,
        sync_interval_seconds=1,
    )
    async with running_app(settings) as app:
        async with asyncio.timeout(15):
            while await event_count(app) < 12:  # noqa: ASYNC110 - polling another component
                await asyncio.sleep(0.1)
    assert len(provider.requests) >= 3  # a failed first run, then a full one over two pages


async def event_count(app) -> int:
    async with database_of(app).transaction() as work:
        return await work.session.scalar(select(func.count()).select_from(Event)) or 0


async def test_metrics_show_the_last_sync_result_and_age(sync_client, sync_service, provider):
    before = (await sync_client.get("/metrics")).text
    assert math.isnan(sample(before, "sync_last_run_success"))

    provider.reset(generate_events(3, seed=24))
    await sync_service.run(SyncMode.ALL)
    after_success = (await sync_client.get("/metrics")).text
    assert sample(after_success, "sync_last_run_success") == 1
    assert 0 <= sample(after_success, "sync_last_run_age_seconds") < 3600

    provider.behaviour.fail_next = 1
    provider.behaviour.fail_status = 404
    await sync_service.run(SyncMode.ALL)
    assert sample((await sync_client.get("/metrics")).text, "sync_last_run_success") == 0
