"""Every rule of SPEC §4.3, through HTTP, with the relay delivering to the fake service."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.core.database import utcnow
from app.dependencies import container_of
from app.events.service import Catalogue
from app.idempotency.models import IdempotencyKey
from tests.conftest import database_of
from tests.support.auth import access_token, bearer
from tests.support.events import create_event, update_event
from tests.support.notifications import OWNER_ID, eventually

CODE_MESSAGE = re.compile(
    r"Здравствуйте, (?P<name>.+)! Ваш код подтверждения: (?P<code>\d{6}) — регистрация на "
    r"мероприятие «(?P<event>.+)»\. Место за вами до (?P<until>\d\d\.\d\d\.\d{4} \d\d:\d\d UTC)\."
)
VISITOR = {"full_name": "Иван Петров", "email": "ivan@example.com"}


async def register(api, headers, event_id, body=None, **kwargs):
    return await api.post(
        f"/api/events/{event_id}/register", json=body or VISITOR, headers=headers, **kwargs
    )


def messages_to(notifications, email, about=None):
    """Each notice delivered to `email` once (a re-delivery answered 409 is not counted), only
    those that name the event `about` when it is given."""
    return [
        seen.body
        for seen in notifications.received
        if seen.status == 201
        and seen.body["email"] == email
        and (about is None or f"«{about.name}»" in seen.body["message"])
    ]


async def delivered_code(notifications, email=VISITOR["email"]) -> str:
    """The code of the first code notice to `email`."""
    await eventually(lambda: codes_to(notifications, email))
    return codes_to(notifications, email)[0]["code"]


def codes_to(notifications, email):
    found = (CODE_MESSAGE.fullmatch(body["message"]) for body in messages_to(notifications, email))
    return [match for match in found if match]


async def registered_with_code(api, relay_app, notifications):
    """A user's headers, their new registration, and the code the service received."""
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    registration = (await register(api, headers, event.id)).json()
    return headers, registration, await delivered_code(notifications)


async def test_registration_is_pending_and_its_code_reaches_the_notification_service(
    api, relay_app, notifications
):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))

    response = await register(api, headers, event.id)
    code = await delivered_code(notifications)

    assert response.status_code == 201, response.text
    registration = response.json()
    assert registration["status"] == "pending"
    assert registration["full_name"] == "Иван Петров"
    assert code not in response.text
    assert "code" not in registration
    [body] = messages_to(notifications, VISITOR["email"])
    assert set(body) == {"id", "owner_id", "email", "message"}
    assert body["owner_id"] == OWNER_ID
    notice = CODE_MESSAGE.fullmatch(body["message"])
    assert (notice["name"], notice["event"]) == ("Иван Петров", event.name)
    hold_ends = datetime.fromisoformat(registration["expires_at"])
    assert notice["until"] == hold_ends.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC")
    uuid.UUID(body["id"])

    async def notification_sent():
        detail = await api.get(f"/api/registrations/{registration['id']}", headers=headers)
        return detail.json()["notification_status"] == "sent"

    await eventually(notification_sent)


async def test_the_right_code_confirms_and_confirming_again_changes_nothing(
    api, relay_app, notifications
):
    headers, registration, code = await registered_with_code(api, relay_app, notifications)
    url = f"/api/registrations/{registration['id']}/confirm"

    first = await api.post(url, json={"code": code}, headers=headers)
    again = await api.post(url, json={"code": code}, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "confirmed"
    assert first.json()["confirmed_at"]
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_wrong_codes_are_400_and_after_five_the_registration_is_locked(
    api, relay_app, notifications
):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    registration = (await register(api, headers, event.id)).json()
    code = await delivered_code(notifications)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    url = f"/api/registrations/{registration['id']}/confirm"

    wrongs = [await api.post(url, json={"code": wrong}, headers=headers) for _ in range(4)]
    before_the_fifth = await api.get(f"/api/registrations/{registration['id']}", headers=headers)
    wrongs.append(await api.post(url, json={"code": wrong}, headers=headers))
    locked = await api.post(url, json={"code": code}, headers=headers)

    assert [response.status_code for response in wrongs] == [400] * 5
    assert wrongs[0].headers["content-type"] == "application/problem+json"
    assert locked.status_code == 429
    detail = await api.get(f"/api/registrations/{registration['id']}", headers=headers)
    assert (detail.json()["status"], detail.json()["locked"]) == ("pending", True)
    assert before_the_fifth.json()["locked"] is False
    assert wrongs[-1].json()["type"].endswith("/wrong-code")


async def test_a_code_that_is_not_six_digits_is_422(api, relay_app):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    registration = (await register(api, headers, event.id)).json()

    response = await api.post(
        f"/api/registrations/{registration['id']}/confirm", json={"code": "12ab"}, headers=headers
    )

    assert response.status_code == 422


async def test_unknown_event_is_404(api):
    headers = bearer(await access_token(api))

    response = await register(api, headers, uuid.uuid4())

    assert response.status_code == 404


async def test_registration_needs_a_token(api, relay_app):
    event = await create_event(database_of(relay_app))

    response = await register(api, {}, event.id)

    assert response.status_code == 401


async def test_an_event_not_open_for_registration_is_409(api, relay_app):
    headers = bearer(await access_token(api))
    finished = await create_event(database_of(relay_app), provider_status="finished")
    past_deadline = await create_event(
        database_of(relay_app), registration_deadline=utcnow() - timedelta(hours=1)
    )

    responses = [await register(api, headers, event.id) for event in (finished, past_deadline)]

    assert [response.status_code for response in responses] == [409, 409]


async def test_the_same_email_twice_is_409_unless_the_first_was_cancelled(api, relay_app):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    first = await register(api, headers, event.id)

    shouted = {**VISITOR, "email": "IVAN@Example.com"}
    twice = await register(api, headers, event.id, shouted)
    await api.delete(f"/api/registrations/{first.json()['id']}", headers=headers)
    after_cancel = await register(api, headers, event.id, shouted)

    assert first.status_code == 201
    assert twice.status_code == 409
    assert after_cancel.status_code == 201, after_cancel.text


async def test_no_seats_left_is_409(api, relay_app):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app), capacity=1)

    first = await register(api, headers, event.id)
    second = await register(api, headers, event.id, {**VISITOR, "email": "maria@example.com"})

    assert first.status_code == 201
    assert second.status_code == 409
    assert "seat" in second.json()["detail"]


async def test_another_users_registration_is_404(api, relay_app):
    owner = bearer(await access_token(api, "ivan"))
    stranger = bearer(await access_token(api, "maria"))
    event = await create_event(database_of(relay_app))
    registration_id = (await register(api, owner, event.id)).json()["id"]
    url = f"/api/registrations/{registration_id}"

    responses = [
        await api.get(url, headers=stranger),
        await api.post(f"{url}/confirm", json={"code": "123456"}, headers=stranger),
        await api.delete(url, headers=stranger),
    ]
    listing = await api.get("/api/registrations", headers=stranger)

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert listing.json()["count"] == 0


async def test_cancelling_frees_the_seat_and_sends_a_notice(api, relay_app, notifications):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app), capacity=1)
    registration = (await register(api, headers, event.id)).json()
    url = f"/api/registrations/{registration['id']}"

    cancelled = await api.delete(url, headers=headers)
    again = await api.delete(f"{url}/", headers=headers)
    seats = (await api.get(f"/api/events/{event.id}", headers=headers)).json()

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert again.json() == cancelled.json()
    assert seats["registrations_count"] == 0
    assert seats["seats_left"] == 1
    await eventually(lambda: len(messages_to(notifications, VISITOR["email"], event)) == 2)
    code_notice, notice = (
        body["message"] for body in messages_to(notifications, VISITOR["email"], event)
    )
    assert CODE_MESSAGE.fullmatch(code_notice)
    assert "отменена" in notice
    assert not CODE_MESSAGE.search(notice)
    confirm = await api.post(f"{url}/confirm", json={"code": "123456"}, headers=headers)
    assert confirm.status_code == 409


async def test_my_registrations_are_paginated_newest_first(api, relay_app):
    headers = bearer(await access_token(api))
    event = await create_event(database_of(relay_app))
    ids = [
        (await register(api, headers, event.id, {**VISITOR, "email": f"v{n}@example.com"})).json()[
            "id"
        ]
        for n in range(3)
    ]

    first = await api.get("/api/registrations", params={"page_size": 2}, headers=headers)
    second = await api.get(first.json()["next"], headers=headers)
    past_end = await api.get("/api/registrations?page=3&page_size=2", headers=headers)

    assert first.status_code == 200
    assert first.json()["count"] == 3
    assert [item["id"] for item in first.json()["results"] + second.json()["results"]] == ids[::-1]
    assert second.json()["next"] is None
    assert second.json()["previous"]
    assert past_end.status_code == 404


async def test_the_same_idempotency_key_and_body_replays_the_first_response(
    api, relay_app, notifications
):
    headers = {**bearer(await access_token(api)), "Idempotency-Key": "key-1"}
    event = await create_event(database_of(relay_app))

    first = await register(api, headers, event.id)
    replay = await register(api, headers, event.id)
    other_body = await register(api, headers, event.id, {**VISITOR, "full_name": "Мария"})

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert other_body.status_code == 422
    listing = await api.get("/api/registrations", headers=headers)
    assert listing.json()["count"] == 1
    await delivered_code(notifications)
    assert len(messages_to(notifications, VISITOR["email"])) == 1


async def test_idempotency_keys_belong_to_one_user_and_expire(api, relay_app):
    ivan = {**bearer(await access_token(api, "ivan")), "Idempotency-Key": "key-1"}
    maria = {**bearer(await access_token(api, "maria")), "Idempotency-Key": "key-1"}
    event = await create_event(database_of(relay_app))
    first = await register(api, ivan, event.id)

    marias = await register(api, maria, event.id, {**VISITOR, "email": "maria@example.com"})
    async with database_of(relay_app).transaction() as work:
        await work.session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    after_expiry = await register(api, ivan, event.id, {**VISITOR, "email": "other@example.com"})

    assert first.status_code == marias.status_code == 201
    assert marias.json()["id"] != first.json()["id"]
    assert after_expiry.status_code == 201
    assert after_expiry.json()["id"] != first.json()["id"]


async def test_cleanup_deletes_a_past_event_with_its_registrations(api, relay_app):
    headers = bearer(await access_token(api))
    database = database_of(relay_app)
    event = await create_event(database)
    registration = (await register(api, headers, event.id)).json()
    await update_event(database, event.id, event_time=utcnow() - timedelta(days=30))
    async with database.transaction() as work:
        catalogue = Catalogue(work, container_of(relay_app).catalogue_version)
        assert await catalogue.delete_ended(retention_days=7) == 1
    response = await api.get(f"/api/registrations/{registration['id']}", headers=headers)
    assert response.status_code == 404
