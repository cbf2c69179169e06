"""What the registration path, which takes a seat in one short statement and checks what it
can before, must not break when sales open (issue "When sales open"): simultaneous requests
through two instances on PostgreSQL (one on SQLite), counted in the database afterwards."""

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database import utcnow
from app.events.models import Event
from app.outbox.models import OutboxMessage
from app.registrations.models import ACTIVE_STATUSES, Registration
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.events import event_with_seats
from tests.support.notifications import eventually
from tests.support.replicas import GENEROUS, count, replicas
from tests.support.statements import statements_during
from tests.support.visitors import Session, sign_in, visitor


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


async def test_a_name_that_could_end_a_literal_is_stored_and_told_exactly_as_it_came(
    database_url,
):
    """On PostgreSQL the registration and its notice reach the database as literals, in the
    seat's message (app.core.last_write): a name that could end one is still only a name."""
    name = "O'Brien \\'; DROP TABLE events; -- «ё» $$ {0}"
    async with replicas(database_url) as running:
        app, session = running.app, running.sessions[0]
        event = await event_with_seats(database_of(app), 1)
        body = {"full_name": name, "email": "obrien@example.com"}
        registered = await session.register(event.id, body)
        detail = await session.get(f"/api/registrations/{registered.json()['id']}")
        async with database_of(app).reading() as connection:
            [(payload, masked)] = await connection.execute(
                select(OutboxMessage.payload, OutboxMessage.masked_text)
            )
        seats = (await session.get(f"/api/events/{event.id}")).json()

    assert registered.status_code == 201, registered.text
    assert detail.json()["full_name"] == name
    assert payload["email"] == "obrien@example.com"
    assert f"Здравствуйте, {name}! Ваш код подтверждения: " in payload["message"]
    assert f"Здравствуйте, {name}! Ваш код подтверждения: ******" in masked
    assert seats["registrations_count"] == 1


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


async def test_one_email_registered_by_many_users_at_once_holds_one_seat_and_one_notice(
    database_url,
):
    """The unique index refuses all but the first in the seat's message; the others go the
    long way, to 409 `already-registered`, with nothing of theirs kept."""
    async with replicas(database_url) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 50)
        users = [await sign_in(sessions[n % len(sessions)].http) for n in range(12)]

        answers = await asyncio.gather(*(user.register(event.id, visitor(7)) for user in users))
        active = await count(app, active_of(event.id))
        notices = await count(app, select(func.count()).select_from(OutboxMessage))
        seats = (await sessions[0].get(f"/api/events/{event.id}")).json()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 11
    refusals = {answer.json()["type"] for answer in answers if answer.status_code == 409}
    assert refusals == {"/problems/already-registered"}
    assert (active, notices, seats["registrations_count"]) == (1, 1, 1)


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
        for session in sessions:  # each knows the event full, until the hold lapses
            for n in range(3):
                assert (await session.register(event.id, visitor(f"early{n}"))).status_code == 409
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


async def test_a_registration_takes_its_seat_in_its_last_statement_and_a_full_event_in_one_read(
    database_url,
):
    """The event's row is written once, last: from there to the commit nothing else runs. A
    full event is refused after one read; once this process knows it full, and nothing was
    written since, with none."""
    async with replicas(database_url, catalogue_version_refresh_seconds=1) as running:
        app, session = running.app, running.sessions[0]
        event = await event_with_seats(database_of(app), 1)
        assert (await session.get("/api/events")).status_code == 200  # the version known
        sent, registered = await sql_during(app, session.register(event.id, visitor(1)))
        refused_with, refused = await sql_during(app, session.register(event.id, visitor(2)))
        # The version it was known full under predates the registration: read again.
        _, refused_again = await sql_during(app, session.register(event.id, visitor(3)))
        known_with, known = await sql_during(app, session.register(event.id, visitor(1)))

    assert registered.status_code == 201, registered.text
    # The look; then the registration, its notice (whose NOTIFY is its trigger's) and the seat,
    # all or none, the seat last — which PostgreSQL gets with the COMMIT, in one message of the
    # driver's own, past SQLAlchemy (tests/core/test_last_write.py).
    assert sent[0].startswith("SELECT events.name")
    if database_url.startswith("postgresql"):
        assert len(sent) == 1
    else:
        savepoint, *writes, released = sent[1:]
        assert (savepoint.split()[0], released.split()[:2]) == (
            "SAVEPOINT",
            ["RELEASE", "SAVEPOINT"],
        )
        assert [write.split()[:3] for write in writes] == [
            ["INSERT", "INTO", "registrations"],
            ["INSERT", "INTO", "outbox_messages"],
            ["UPDATE", "events", "SET"],
        ]
    assert (refused.status_code, len(refused_with)) == (409, 1)
    assert refused_with[0].startswith("SELECT")
    # Full comes before the visitor's own registrations (visitor 1 holds the seat).
    for answer in (refused, refused_again, known):
        assert answer.json()["type"] == "/problems/event-full"
    assert known_with == []


async def test_a_known_full_event_is_refused_before_the_body_but_not_before_a_keyed_replay(
    database_url,
):
    """Once known full, a registration is refused ahead of its body (a 409, not a 422) but not
    ahead of authentication, and a retry under the Idempotency-Key of a registration made
    before the event filled gets its 201 back."""
    async with replicas(database_url, catalogue_version_refresh_seconds=1) as running:
        app, session = running.app, running.sessions[0]
        event = await event_with_seats(database_of(app), 1)
        assert (await session.get("/api/events")).status_code == 200  # the version known
        keyed = {**session.headers, "Idempotency-Key": "before-it-filled"}
        path = f"/api/events/{event.id}/register"
        first = await session.http.post(path, json=visitor(1), headers=keyed)
        for n in (2, 3):  # the second refusal is answered from memory
            assert (await session.register(event.id, visitor(n))).status_code == 409
        replayed_with, replayed = await sql_during(
            app, session.http.post(path, json=visitor(1), headers=keyed)
        )
        bad_body_with, bad_body = await sql_during(
            app, session.http.post(path, json={"email": "not an email"}, headers=session.headers)
        )
        anonymous = await session.http.post(path, json=visitor(4))

    assert first.status_code == 201, first.text
    assert (replayed.status_code, replayed.json()["id"]) == (201, first.json()["id"])
    assert replayed_with  # the stored response was read
    assert (bad_body.status_code, bad_body.json()["type"]) == (409, "/problems/event-full")
    assert bad_body_with == []
    assert anonymous.status_code == 401


async def test_a_seat_freed_on_another_replica_is_seen_by_one_that_knew_the_event_full(
    database_url,
):
    async with replicas(database_url, catalogue_version_refresh_seconds=0.2) as running:
        app, here, there = running.app, running.sessions[0], running.sessions[-1]
        event = await event_with_seats(database_of(app), 1)
        assert (await here.get("/api/events")).status_code == 200  # the version known
        holding = (await here.register(event.id, visitor("leaving"))).json()
        for n in range(3):  # known full here from the second refusal on
            assert (await here.register(event.id, visitor(n))).status_code == 409
        cancelled = await there.http.delete(
            f"/api/registrations/{holding['id']}", headers=there.headers
        )
        answers = []

        async def registered_here() -> bool:
            answers.append(await here.register(event.id, visitor(f"next{len(answers)}")))
            return answers[-1].status_code == 201

        await eventually(registered_here, timeout=5)
        active = await count(app, active_of(event.id))

    assert cancelled.status_code == 200, cancelled.text
    assert {answer.status_code for answer in answers[:-1]} <= {409}
    assert active == 1


@pytest.mark.postgresql_only("SQLite's transactions hold the whole database: no row locks")
async def test_a_registration_in_flight_does_not_hold_up_a_cancellation(database_url):
    """A registration inserted but not yet seated holds KEY SHARE on its event (the foreign
    key). The event's lock, which cancelling takes, must not wait for it: the registration's
    seat statement would then queue behind that lock, and the two would deadlock."""
    async with replicas(database_url) as running:
        session = running.sessions[0]
        event = await event_with_seats(database_of(running.app), 5)
        registered = (await session.register(event.id, visitor("leaving"))).json()
        other = create_async_engine(database_url)
        async with other.connect() as in_flight:
            await in_flight.execute(
                text("SELECT 1 FROM events WHERE id = :id FOR KEY SHARE"), {"id": event.id}
            )
            cancelling = asyncio.create_task(
                session.http.delete(
                    f"/api/registrations/{registered['id']}", headers=session.headers
                )
            )
            await eventually(lambda: cancelling.done() or _someone_waits(in_flight))
            finished_first = cancelling.done()
            await in_flight.rollback()
        await other.dispose()
        cancelled = await cancelling

    assert finished_first, "the cancellation waited for the registration in flight"
    assert cancelled.status_code == 200, cancelled.text


async def sql_during(app, request):
    """The statements `request` sent, but SQLite's BEGIN (PostgreSQL's is no statement of its
    own), and its answer."""
    sent, response = await statements_during(app, request, its_own_only=True)
    return [statement for statement in sent if not statement.startswith("BEGIN")], response


async def _someone_waits(connection) -> bool:
    return bool(await connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - utcnow()).total_seconds(), 0) + 0.02)
