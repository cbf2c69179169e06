"""What the registration path, which takes a seat in one short statement and checks what it
can before, must not break when sales open (issue "When sales open"): simultaneous requests
through two instances on PostgreSQL (one on SQLite), counted in the database afterwards."""

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from app.core.database import utcnow
from app.events.models import Event
from app.outbox.models import OutboxMessage
from app.registrations.models import ACTIVE_STATUSES, Registration
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.events import event_with_seats
from tests.support.replicas import GENEROUS, count, replicas
from tests.support.visitors import Session, visitor


def active_of(event_id):
    return select(func.count()).where(
        Registration.event_id == event_id, Registration.stored_status.in_(ACTIVE_STATUSES)
    )


async def test_a_full_event_with_people_waiting_answers_409_without_taking_a_seat(database_url):
    async with replicas(database_url) as running:
        app, session = running.app, running.sessions[0]
        event = await event_with_seats(database_of(app), 2)
        for n in range(2):
            assert (await session.register(event.id, visitor(n))).status_code == 201
        assert (await session.join(event.id, visitor("w"))).status_code == 201
        messages_before = await count(app, select(func.count()).select_from(OutboxMessage))
        version_before = await count(app, select(Event.seats_version).where(Event.id == event.id))

        refused = await session.register(event.id, visitor("late"))

        messages_after = await count(app, select(func.count()).select_from(OutboxMessage))
        version_after = await count(app, select(Event.seats_version).where(Event.id == event.id))
        seats = (await session.get(f"/api/events/{event.id}")).json()

    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/event-full")
    assert (seats["registrations_count"], seats["waitlist_count"]) == (2, 1)
    assert messages_after == messages_before  # no notice queued, and none rolled back either
    assert version_after == version_before  # the event's row was not written


async def test_one_users_simultaneous_registrations_stop_exactly_at_the_per_user_limit(
    database_url,
):
    async with replicas(database_url, registrations_per_user_per_event=3) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 50)

        answers = await asyncio.gather(
            *(sessions[n % len(sessions)].register(event.id, visitor(n)) for n in range(20))
        )
        active = await count(app, active_of(event.id))
        seats = (await sessions[0].get(f"/api/events/{event.id}")).json()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 3 + [409] * 17
    refusals = {answer.json()["type"] for answer in answers if answer.status_code == 409}
    assert refusals == {"/problems/registration-limit-reached"}
    assert active == 3
    assert seats["registrations_count"] == 3


async def test_simultaneous_retries_under_one_idempotency_key_make_one_registration(
    database_url,
):
    async with replicas(database_url) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 50)
        retry = {**sessions[0].headers, "Idempotency-Key": "press-once"}

        answers = await asyncio.gather(
            *(
                sessions[n % len(sessions)].http.post(
                    f"/api/events/{event.id}/register", json=visitor("same"), headers=retry
                )
                for n in range(10)
            )
        )
        active = await count(app, active_of(event.id))
        codes = await count(app, select(func.count()).select_from(OutboxMessage))

    assert [answer.status_code for answer in answers] == [201] * 10
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert (active, codes) == (1, 1)


async def test_a_seat_freed_by_a_lapsing_hold_during_the_rush_goes_to_exactly_one(database_url):
    async with replicas(database_url, hold_sweep_interval_seconds=0.05) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 3)
        for n in range(2):
            assert (await sessions[0].register(event.id, visitor(n))).status_code == 201
        short_holds = make_settings(database_url, **GENEROUS, registration_hold_seconds=1)
        async with running_app(short_holds) as short, http_client(short) as http:
            lapsing = await Session(http, sessions[0].headers).register(event.id, visitor("x"))
        await _sleep_until(datetime.fromisoformat(lapsing.json()["expires_at"]))

        answers = await asyncio.gather(
            *(sessions[n % len(sessions)].register(event.id, visitor(f"r{n}")) for n in range(30))
        )
        active = await count(app, active_of(event.id))
        seats = (await sessions[0].get(f"/api/events/{event.id}")).json()

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 29
    assert active == 3
    assert (seats["registrations_count"], seats["seats_left"]) == (3, 0)


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - utcnow()).total_seconds(), 0) + 0.02)
