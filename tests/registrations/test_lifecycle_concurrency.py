"""The invariants of SPEC §4.5 under real concurrency: simultaneous requests through two app
instances (each with its own connection pool) on PostgreSQL, through one on SQLite, counted in
the database afterwards."""

import asyncio
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.database import utcnow
from app.outbox.models import OutboxMessage
from app.registrations.models import ACTIVE_STATUSES, Registration, WaitlistEntry
from app.registrations.notices import Notice
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.events import event_with_seats
from tests.support.replicas import GENEROUS, count, replicas
from tests.support.visitors import Session, visitor


async def test_simultaneous_cancellations_offer_each_freed_seat_once_to_the_oldest_entries(
    database_url,
):
    async with replicas(database_url) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 50)
        taken = [(await sessions[0].register(event.id, visitor(n))).json()["id"] for n in range(50)]
        entries = [
            (await sessions[0].join(event.id, visitor(f"w{n}"))).json()["id"] for n in range(100)
        ]

        answers = await asyncio.gather(
            *(
                sessions[n % len(sessions)].delete(f"/api/registrations/{registration_id}")
                for n, registration_id in enumerate(taken[:30])
            )
        )

        offered = await _offered_entries(app, event.id)
        offers = await count(app, select(func.count()).where(OutboxMessage.topic == Notice.OFFER))
        active = await count(
            app,
            select(func.count()).where(
                Registration.event_id == event.id, Registration.stored_status.in_(ACTIVE_STATUSES)
            ),
        )
        seats = (await sessions[0].get(f"/api/events/{event.id}")).json()

    assert [answer.json()["status"] for answer in answers] == ["cancelled"] * 30
    assert [str(entry.id) for entry in offered] == entries[:30]
    assert len({entry.registration_id for entry in offered}) == 30
    assert offers == 30
    assert active == 50
    assert (seats["registrations_count"], seats["seats_left"], seats["waitlist_count"]) == (
        50,
        0,
        70,
    )


async def test_holds_lapsing_while_requests_rush_give_exactly_their_seats(database_url):
    # The sweep runs every 50 ms on each replica, racing the requests for the lapsed holds.
    async with replicas(database_url, hold_sweep_interval_seconds=0.05) as running:
        app, sessions = running.app, running.sessions
        event = await event_with_seats(database_of(app), 10)
        # The ten holds that lapse come from an instance holding for a second; the replicas
        # hold for the default half hour, so that no seat frees twice during the rush.
        short_holds = make_settings(database_url, **GENEROUS, registration_hold_seconds=1)
        async with running_app(short_holds) as short, http_client(short) as http:
            holder = Session(http, sessions[0].headers)
            holds = [(await holder.register(event.id, visitor(n))).json() for n in range(10)]
        await _sleep_until(datetime.fromisoformat(holds[-1]["expires_at"]))

        answers = await asyncio.gather(
            *(sessions[n % len(sessions)].register(event.id, visitor(f"r{n}")) for n in range(50))
        )
        statuses = [answer.status_code for answer in answers]
        active = await count(
            app,
            select(func.count()).where(
                Registration.event_id == event.id, Registration.stored_status.in_(ACTIVE_STATUSES)
            ),
        )
        seats = (await sessions[0].get(f"/api/events/{event.id}")).json()

    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 40
    assert {answer.json()["type"] for answer in answers if answer.status_code == 409} == {
        "/problems/event-full"
    }
    assert active == 10
    assert (seats["registrations_count"], seats["seats_left"]) == (10, 0)


async def _offered_entries(app: FastAPI, event_id) -> list[WaitlistEntry]:
    async with database_of(app).transaction() as work:
        rows = await work.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.stored_status == "offered")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
        return list(rows)


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - utcnow()).total_seconds(), 0) + 0.02)
