"""The relay inside the app, against the fake notification service over real HTTP."""

import dataclasses
import uuid

import httpx
import pytest
from sqlalchemy import select

from app.outbox.models import OutboxMessage
from fakes.notifications import Behaviour
from tests.conftest import client_of, database_of, running_app
from tests.support.auth import access_token, bearer
from tests.support.events import create_event
from tests.support.metrics import sample
from tests.support.notifications import (
    MAX_ATTEMPTS,
    NOTIFICATIONS_TOKEN,
    OWNER_ID,
    eventually,
    new_ids,
    relay_settings,
    seed_messages,
    status_of,
)
from tests.support.processes import PROJECT_ROOT, run_cli, service_environment


async def sent(app, message_id: str) -> bool:
    return (await status_of(app, message_id))[0] == "sent"


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(fail_next=2, fail_status=500),
        Behaviour(fail_next=2, fail_mode="drop"),
        Behaviour(fail_next=1, fail_status=504, fail_mode="hang", hang_seconds=1.0),
        Behaviour(fail_next=2, fail_status=429, retry_after="0"),
        Behaviour(fail_next=2, fail_status=400),
    ],
    ids=["500", "dropped-connection", "timeout", "429-retry-after", "other-4xx"],
)
async def test_a_service_failing_at_first_still_creates_each_message_once(
    api, relay_app, notifications, behaviour
):
    notifications.behaviour = dataclasses.replace(behaviour)
    [message_id] = ids = new_ids(1)
    await seed_messages(database_of(relay_app), ids)

    await eventually(lambda: sent(relay_app, message_id))

    assert notifications.created(message_id) == 1
    assert (await status_of(relay_app, message_id))[1] == behaviour.fail_next + 1


async def test_a_409_counts_as_delivered(api, relay_app, notifications):
    [message_id] = ids = new_ids(1)
    async with httpx.AsyncClient() as http:  # a relay that died before recording its send
        first = await http.post(
            notifications.url,
            headers={"Authorization": f"Bearer {NOTIFICATIONS_TOKEN}"},
            json={"id": message_id, "owner_id": OWNER_ID, "email": "a@b.c", "message": "m"},
        )
    await seed_messages(database_of(relay_app), ids)

    await eventually(lambda: sent(relay_app, message_id))

    assert first.status_code == 201
    assert [seen.status for seen in notifications.received if seen.id == message_id] == [201, 409]


async def test_a_failing_service_leaves_the_message_dead_until_requeued(
    api, relay_app, notifications, database_url
):
    notifications.behaviour = Behaviour(fail_next=1000, fail_status=503)
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    registration = await api.post(
        f"/api/events/{event.id}/register",
        json={"full_name": "Иван", "email": "ivan@example.com"},
        headers=headers,
    )
    url = f"/api/registrations/{registration.json()['id']}"

    async def notification_status() -> str:
        return (await api.get(url, headers=headers)).json()["notification_status"]

    await eventually(lambda: _equals(notification_status(), "failed"))
    metrics = (await api.get("/metrics")).text
    assert len([seen for seen in notifications.received if seen.status == 503]) == MAX_ATTEMPTS
    assert sample(metrics, "outbox_dead") == 1
    assert sample(metrics, "outbox_deliveries_total", result="dead") >= 1

    notifications.reset()
    code, stdout, _ = await run_cli(
        "outbox-requeue", env=service_environment(database_url), cwd=PROJECT_ROOT
    )

    assert code == 0
    assert "requeued 1" in stdout
    await eventually(lambda: _equals(notification_status(), "sent"))
    assert len(notifications.delivered_ids) == 1
    assert sample((await api.get("/metrics")).text, "outbox_dead") == 0


async def _equals(value, expected) -> bool:
    return await value == expected


async def test_a_message_written_by_this_process_wakes_the_relay_at_once(
    database_url, notifications, api
):
    # Polling only every 10 minutes: a delivery within the test's patience comes from the wake.
    settings = relay_settings(database_url, notifications.url, outbox_poll_interval_seconds=600)
    async with running_app(settings) as application, client_of(application) as http:
        headers = bearer(await access_token(http))
        event = await create_event(database_of(application))
        response = await http.post(
            f"/api/events/{event.id}/register",
            json={"full_name": "Иван", "email": "ivan@example.com"},
            headers=headers,
        )

        await eventually(lambda: notifications.delivered_ids, timeout=30)

    assert response.status_code == 201


async def test_a_delivered_message_keeps_neither_the_email_nor_the_code(
    api, relay_app, notifications
):
    [message_id] = ids = new_ids(1)
    await seed_messages(database_of(relay_app), ids)

    await eventually(lambda: sent(relay_app, message_id))

    [delivered] = notifications.received
    assert delivered.body["email"] == "v0@example.com"
    assert delivered.body["message"] == "Сообщение 0"
    async with database_of(relay_app).transaction() as work:
        kept = await work.session.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.id == uuid.UUID(message_id))
        )
    assert kept == {}
