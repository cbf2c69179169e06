"""The admin site: staff only, with events-face credentials."""

import uuid

import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.outbox.models import OutboxMessage
from app.sync.models import SyncRun
from tests.conftest import client_of, database_of
from tests.support.auth import PASSWORD, make_staff, register
from tests.support.notifications import new_ids, seed_messages

PROVIDER = "https://provider.example/api/events/"


@pytest.fixture
async def client(app):
    """The admin site works in sessions of its own: its tests need committed data."""
    async with client_of(app) as http:
        yield http


async def admin_login(client, username: str, password: str = PASSWORD):
    return await client.post(
        "/admin/login", data={"username": username, "password": password}, follow_redirects=False
    )


async def test_admin_without_a_session_redirects_to_its_login(client):
    response = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code in (302, 303, 307)
    assert "/admin/login" in response.headers["location"]


async def test_a_user_who_is_not_staff_cannot_log_in(client):
    await register(client, "ivan")

    response = await admin_login(client, "ivan")
    listing = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code == 400
    assert listing.status_code != 200


async def test_a_wrong_password_cannot_log_in(client, app):
    await register(client, "admin")
    await make_staff(database_of(app), "admin")

    response = await admin_login(client, "admin", "not-the-password")

    assert response.status_code == 400


async def test_staff_see_users_events_venues_and_sync_runs(client, app):
    await register(client, "admin")
    await register(client, "ivan.petrov")
    await make_staff(database_of(app), "admin")
    async with database_of(app).transaction() as work:
        work.session.add(SyncRun(mode="all", source=PROVIDER, status="success"))

    login = await admin_login(client, "admin")
    pages = {
        name: await client.get(f"/admin/{name}/list")
        for name in ("user", "venue", "event", "sync-run")
    }

    assert login.status_code == 302
    assert all(page.status_code == 200 for page in pages.values()), {
        name: page.status_code for name, page in pages.items()
    }
    assert "ivan.petrov" in pages["user"].text
    assert "password_hash" not in pages["user"].text
    assert PROVIDER in pages["sync-run"].text


async def test_a_staff_session_ends_when_the_user_loses_staff(client, app):
    await register(client, "admin")
    await make_staff(database_of(app), "admin")
    await admin_login(client, "admin")
    async with database_of(app).transaction() as work:
        await work.session.execute(update(User).values(is_staff=False))

    response = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code != 200


async def test_staff_requeue_dead_outbox_messages_and_never_see_their_text(client, app):
    dead, pending = new_ids(2)
    await seed_messages(database_of(app), [dead, pending])
    async with database_of(app).transaction() as work:
        await work.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == uuid.UUID(dead))
            .values(status="dead", attempts=20)
        )
    await register(client, "admin")
    await make_staff(database_of(app), "admin")
    await admin_login(client, "admin")

    listing = await client.get("/admin/outbox-message/list")
    details = await client.get(f"/admin/outbox-message/details/{dead}")
    requeue = await client.get(
        "/admin/outbox-message/action/requeue",
        params={"pks": f"{dead},{pending}"},
        follow_redirects=False,
    )
    async with database_of(app).transaction() as work:
        rows = dict(
            (await work.session.execute(select(OutboxMessage.id, OutboxMessage.attempts))).all()
        )

    assert listing.status_code == details.status_code == 200
    assert "Сообщение" not in listing.text + details.text
    assert requeue.status_code == 302
    assert rows == {uuid.UUID(dead): 0, uuid.UUID(pending): 0}
