"""The waiting list through HTTP (SPEC §4.5): joining only a full event, positions, an offer
made when a seat frees, confirmed with the offer's code, leaving, an offer that lapses and
passes the seat on."""

import asyncio
from datetime import timedelta

from app.core.database import utcnow
from app.events.models import Event
from tests.conftest import database_of
from tests.support.events import event_with_seats, update_event
from tests.support.metrics import sample
from tests.support.notifications import eventually
from tests.support.visitors import latest_code, notices_when, relaying_app, sign_in, visitor


async def full_event(app, session, seats: int = 1):
    """An event whose `seats` seats are all held by `session`'s registrations."""
    event = await event_with_seats(database_of(app), seats)
    holders = [
        (await session.register(event.id, visitor(f"holder{n}"))).json() for n in range(seats)
    ]
    return event, holders


async def test_a_full_event_sends_visitors_to_its_waiting_list_and_a_freed_seat_to_the_oldest(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan, maria, oleg = await sign_in(http), await sign_in(http), await sign_in(http)
        event = await event_with_seats(database_of(app), 1)
        too_early = await maria.join(event.id, visitor("maria"))
        holder = (await ivan.register(event.id, visitor("ivan"))).json()
        full = await maria.register(event.id, visitor("maria"))
        first = await maria.join(event.id, visitor("maria"))
        second = await oleg.join(event.id, visitor("oleg"))
        twice = await maria.join(event.id, visitor("maria"))
        listed = (await ivan.get(f"/api/events/{event.id}")).json()

        await ivan.delete(f"/api/registrations/{holder['id']}")
        offered = (await maria.get(f"/api/waitlist/{first.json()['id']}")).json()
        code = await latest_code(notifications, visitor("maria")["email"])
        confirmed = await maria.confirm(offered["registration_id"], code)
        claimed = (await maria.get(f"/api/waitlist/{first.json()['id']}")).json()
        moved_up = (await oleg.get(f"/api/waitlist/{second.json()['id']}")).json()
        after = (await ivan.get(f"/api/events/{event.id}")).json()
        mine = (await maria.get("/api/waitlist")).json()
        metrics = (await http.get("/metrics")).text
        told = await notices_when(notifications, visitor("maria")["email"], 2)

    assert too_early.status_code == 409
    assert too_early.json()["type"].endswith("/seats-available")
    assert full.status_code == 409
    assert full.json()["type"].endswith("/event-full")
    assert (first.status_code, first.json()["status"], first.json()["position"]) == (
        201,
        "waiting",
        1,
    )
    assert (second.json()["position"], listed["waitlist_count"]) == (2, 2)
    assert twice.json()["type"].endswith("/already-waiting")
    assert (offered["status"], offered["position"]) == ("offered", None)
    offer_notice, confirmed_notice = told
    assert event.name in offer_notice
    assert "подтверждена" in confirmed_notice
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "confirmed")
    assert (claimed["status"], claimed["registration_id"]) == (
        "claimed",
        offered["registration_id"],
    )
    assert (moved_up["status"], moved_up["position"]) == ("waiting", 1)
    assert (after["registrations_count"], after["seats_left"], after["waitlist_count"]) == (1, 0, 1)
    assert mine["count"] == 1
    assert sample(metrics, "waitlist_offers_total") == 1


async def test_while_anybody_waits_a_freed_seat_is_theirs_not_a_new_visitors(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan, maria, oleg = await sign_in(http), await sign_in(http), await sign_in(http)
        event, [holder] = await full_event(app, ivan)
        entry = (await maria.join(event.id, visitor("maria"))).json()
        await ivan.delete(f"/api/registrations/{holder['id']}")
        newcomer = await oleg.register(event.id, visitor("oleg"))
        offered = (await maria.get(f"/api/waitlist/{entry['id']}")).json()

    assert newcomer.json()["type"].endswith("/event-full")
    assert offered["status"] == "offered"


async def test_leaving_takes_an_entry_off_the_list_once_and_its_seat_goes_to_the_next(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan, maria, oleg = await sign_in(http), await sign_in(http), await sign_in(http)
        event, [holder] = await full_event(app, ivan)
        leaving = (await maria.join(event.id, visitor("maria"))).json()
        staying = (await oleg.join(event.id, visitor("oleg"))).json()

        left = await maria.delete(f"/api/waitlist/{leaving['id']}")
        again = await maria.delete(f"/api/waitlist/{leaving['id']}/")
        count = (await ivan.get(f"/api/events/{event.id}")).json()["waitlist_count"]
        await ivan.delete(f"/api/registrations/{holder['id']}")
        next_in_line = (await oleg.get(f"/api/waitlist/{staying['id']}")).json()
        stranger = await ivan.delete(f"/api/waitlist/{staying['id']}")

    assert (left.status_code, left.json()["status"], left.json()["position"]) == (200, "left", None)
    assert again.json() == left.json()
    assert count == 1
    assert next_in_line["status"] == "offered"
    assert stranger.status_code == 404
    assert stranger.json()["type"].endswith("/waitlist-entry-not-found")


async def test_an_offer_that_lapses_passes_the_seat_to_the_next_entry(database_url, notifications):
    async with relaying_app(
        database_url, notifications, waitlist_offer_seconds=1, hold_sweep_interval_seconds=0.2
    ) as (app, http):
        ivan, maria, oleg = await sign_in(http), await sign_in(http), await sign_in(http)
        event, [holder] = await full_event(app, ivan)
        first = (await maria.join(event.id, visitor("maria"))).json()
        second = (await oleg.join(event.id, visitor("oleg"))).json()
        await ivan.delete(f"/api/registrations/{holder['id']}")
        await notices_when(notifications, visitor("maria")["email"], 1)

        # No request touches the event: the sweep records the lapse and makes the next offer.
        await notices_when(notifications, visitor("oleg")["email"], 1, timeout=10)
        lapsed = (await maria.get(f"/api/waitlist/{first['id']}")).json()
        lapsed_offer = (await maria.get(f"/api/registrations/{lapsed['registration_id']}")).json()
        offered = (await oleg.get(f"/api/waitlist/{second['id']}")).json()
        seats = (await ivan.get(f"/api/events/{event.id}")).json()

        # An offer is counted once its unit of work has committed, which the relay's delivery
        # of its notice may overtake.
        async def both_offers_counted() -> bool:
            return sample((await http.get("/metrics")).text, "waitlist_offers_total") >= 2

        await eventually(both_offers_counted)
        metrics = (await http.get("/metrics")).text

    # Oleg's offer lapses a second after it is made too: what follows holds either way.
    assert lapsed["status"] == "expired"
    assert lapsed_offer["status"] == "expired"
    assert offered["registration_id"] not in (None, lapsed["registration_id"])
    assert seats["waitlist_count"] == 0
    assert sample(metrics, "waitlist_offers_total") == 2
    assert sample(metrics, "waitlist_offers_expired_total") >= 1


async def test_waiting_entries_of_an_event_whose_registration_closed_read_as_expired(
    database_url, notifications
):
    async with relaying_app(database_url, notifications, hold_sweep_interval_seconds=0.2) as (
        app,
        http,
    ):
        ivan, maria = await sign_in(http), await sign_in(http)
        event, _ = await full_event(app, ivan)
        entry = (await maria.join(event.id, visitor("maria"))).json()
        await _close_registration(app, event.id)
        read = (await maria.get(f"/api/waitlist/{entry['id']}")).json()
        seen = (await maria.get(f"/api/events/{event.id}")).json()
        joining = await maria.join(event.id, visitor("oleg"))
        await asyncio.sleep(0.5)  # the sweep records it
        count = await _stored_waitlist_count(app, event.id)

    assert (read["status"], read["position"]) == ("expired", None)
    assert (seen["status"], seen["waitlist_count"]) == ("closed", 0)
    assert joining.json()["type"].endswith("/registration-closed")
    assert count == 0


async def _close_registration(app, event_id) -> None:
    await update_event(
        database_of(app), event_id, registration_deadline=utcnow() - timedelta(seconds=1)
    )


async def _stored_waitlist_count(app, event_id) -> int:
    async with database_of(app).transaction() as work:
        event = await work.session.get_one(Event, event_id)
        return event.waitlist_count
