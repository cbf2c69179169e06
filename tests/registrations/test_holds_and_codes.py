"""SPEC §4.5 through HTTP: holds that expire (visible at once, whether or not the sweep has run),
new codes, per-user limits. Short holds and intervals come from the settings."""

import asyncio
from datetime import datetime

from tests.conftest import database_of
from tests.support.events import event_with_seats
from tests.support.metrics import sample
from tests.support.visitors import latest_code, notices_when, relaying_app, sign_in, visitor

HOLD = 1  # second
# Long enough that only a request can have recorded an expiry: proves it needs no sweep.
NO_SWEEP = {"hold_sweep_interval_seconds": 3600}


def problem_type(response) -> str:
    return response.json()["type"]


async def test_a_hold_expires_unconfirmed_and_its_seat_is_taken_at_once(
    database_url, notifications
):
    async with relaying_app(
        database_url, notifications, registration_hold_seconds=HOLD, **NO_SWEEP
    ) as (app, http):
        ivan, maria = await sign_in(http), await sign_in(http)
        event = await event_with_seats(database_of(app), 1)
        held = await ivan.register(event.id, visitor("ivan"))
        refused = await maria.register(event.id, visitor("maria"))
        await asyncio.sleep(HOLD + 0.2)

        expired = await ivan.get(f"/api/registrations/{held.json()['id']}")
        taken = await maria.register(event.id, visitor("maria"))
        again = await ivan.register(event.id, visitor("ivan"))  # the email is free, the seat not
        seats = (await ivan.get(f"/api/events/{event.id}")).json()
        metrics = (await http.get("/metrics")).text

    assert held.status_code == 201
    body = held.json()
    assert body["status"] == "pending"
    hold = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert hold.total_seconds() == HOLD
    assert problem_type(refused).endswith("/event-full")
    assert (expired.status_code, expired.json()["status"]) == (200, "expired")
    assert expired.json()["expires_at"] == body["expires_at"]
    assert taken.status_code == 201, taken.text
    assert problem_type(again).endswith("/event-full")
    assert (seats["registrations_count"], seats["seats_left"]) == (1, 0)
    assert sample(metrics, "registration_holds_expired_total") == 1


async def test_a_lapsed_hold_frees_its_seat_on_reads_before_anything_records_it(
    database_url, notifications
):
    async with relaying_app(
        database_url, notifications, registration_hold_seconds=HOLD, **NO_SWEEP
    ) as (app, http):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 3)
        await ivan.register(event.id, visitor(1))
        await ivan.register(event.id, visitor(2))
        before = (await ivan.get(f"/api/events/{event.id}")).json()
        await asyncio.sleep(HOLD + 0.2)
        detail = (await ivan.get(f"/api/events/{event.id}")).json()
        listed = (await ivan.get("/api/events")).json()["results"][0]
        mine = (await ivan.get("/api/registrations")).json()["results"]

    assert (before["registrations_count"], before["seats_left"]) == (2, 1)
    assert (detail["registrations_count"], detail["seats_left"]) == (0, 3)
    assert (listed["registrations_count"], listed["seats_left"]) == (0, 3)
    assert [registration["status"] for registration in mine] == ["expired", "expired"]


async def test_an_expired_hold_cannot_be_confirmed_and_cancelling_it_changes_nothing(
    database_url, notifications
):
    async with relaying_app(
        database_url, notifications, registration_hold_seconds=HOLD, **NO_SWEEP
    ) as (app, http):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        registration = (await ivan.register(event.id, visitor("ivan"))).json()
        code = await latest_code(notifications, visitor("ivan")["email"])
        await asyncio.sleep(HOLD + 0.2)

        confirmed = await ivan.confirm(registration["id"], code)
        cancelled = await ivan.delete(f"/api/registrations/{registration['id']}")
        resent = await ivan.post(f"/api/registrations/{registration['id']}/resend-code")

    assert confirmed.status_code == 409
    assert problem_type(confirmed).endswith("/registration-expired")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "expired")
    assert cancelled.json()["cancelled_at"] is None
    assert problem_type(resent).endswith("/registration-expired")


async def test_a_new_code_waits_for_the_interval(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        registration = (await ivan.register(event.id, visitor("ivan"))).json()

        too_soon = await ivan.post(f"/api/registrations/{registration['id']}/resend-code")

    assert too_soon.status_code == 429
    assert problem_type(too_soon).endswith("/resend-too-soon")
    assert 59 <= int(too_soon.headers["retry-after"]) <= 60  # CODE_RESEND_INTERVAL_SECONDS


async def test_a_new_code_replaces_the_old_one_three_times_at_most(database_url, notifications):
    async with relaying_app(database_url, notifications, code_resend_interval_seconds=1) as (
        app,
        http,
    ):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        email = visitor("ivan")["email"]
        registration = (await ivan.register(event.id, visitor("ivan"))).json()
        url = f"/api/registrations/{registration['id']}/resend-code"
        first_code = await latest_code(notifications, email)

        resent = []
        for _ in range(3):
            await asyncio.sleep(1.1)  # the interval has passed, however loaded the machine
            resent.append(await ivan.post(url))
        fourth = await ivan.post(url)
        old_code = await ivan.confirm(registration["id"], first_code)
        newest_code = await latest_code(notifications, email, 4)
        confirmed = await ivan.confirm(registration["id"], newest_code)
        notices = await notices_when(notifications, email, 4)

    assert [answer.status_code for answer in resent] == [200, 200, 200]
    assert resent[0].json()["expires_at"] == registration["expires_at"]  # no longer hold
    assert all("новый код" in notice for notice in notices[1:4])
    assert all(f"«{event.name}»" in notice for notice in notices[:4])
    assert fourth.status_code == 429
    assert problem_type(fourth).endswith("/resend-limit-reached")
    assert old_code.status_code == 400
    assert problem_type(old_code).endswith("/wrong-code")
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "confirmed")


async def test_no_new_code_for_a_confirmed_or_cancelled_registration(database_url, notifications):
    async with relaying_app(database_url, notifications, code_resend_interval_seconds=1) as (
        app,
        http,
    ):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        confirmed = (await ivan.register(event.id, visitor(1))).json()
        await ivan.confirm(confirmed["id"], await latest_code(notifications, visitor(1)["email"]))
        cancelled = (await ivan.register(event.id, visitor(2))).json()
        await ivan.delete(f"/api/registrations/{cancelled['id']}")
        await asyncio.sleep(1.1)

        answers = [
            await ivan.post(f"/api/registrations/{registration['id']}/resend-code")
            for registration in (confirmed, cancelled)
        ]

    assert [answer.status_code for answer in answers] == [409, 409]
    assert problem_type(answers[0]).endswith("/registration-confirmed")
    assert problem_type(answers[1]).endswith("/registration-cancelled")


async def test_one_user_holds_at_most_the_limit_of_registrations_and_waiting_entries(
    database_url, notifications
):
    async with relaying_app(database_url, notifications, registrations_per_user_per_event=2) as (
        app,
        http,
    ):
        ivan, maria = await sign_in(http), await sign_in(http)
        roomy = await event_with_seats(database_of(app), 10)
        kept = [(await ivan.register(roomy.id, visitor(n))).json() for n in range(2)]
        third = await ivan.register(roomy.id, visitor(2))
        other_user = await maria.register(roomy.id, visitor(3))
        await ivan.delete(f"/api/registrations/{kept[0]['id']}")
        after_cancelling = await ivan.register(roomy.id, visitor(2))

        full = await event_with_seats(database_of(app), 1)
        await maria.register(full.id, visitor("maria"))
        waiting = [await ivan.join(full.id, visitor(n)) for n in range(3)]

    assert third.status_code == 409
    assert problem_type(third).endswith("/registration-limit-reached")
    assert other_user.status_code == 201
    assert after_cancelling.status_code == 201
    assert [answer.status_code for answer in waiting] == [201, 201, 409]
    assert problem_type(waiting[2]).endswith("/waitlist-limit-reached")
