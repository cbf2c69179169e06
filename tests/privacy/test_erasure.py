"""Erasing an account (SPEC §4.7), by its owner or from the admin site: one unit of work that
cancels its registrations (the seats to the waiting list), takes it off the waiting lists,
puts placeholders in place of its names and addresses, drops its undelivered notices and the
texts of the delivered ones, and refuses its tokens and its tickets from then on."""

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.dependencies import container_of
from app.registrations.models import Registration, WaitlistEntry
from tests.conftest import client_of, database_of, http_client, make_settings, running_app
from tests.support.auth import PASSWORD, bearer, make_staff, register
from tests.support.database import empty_database
from tests.support.door import confirmed, door_staff, scan
from tests.support.events import event_with_seats
from tests.support.notifications import eventually, relay_settings
from tests.support.own_data import notices_kept
from tests.support.visitors import (
    Session,
    latest_code,
    notices_to,
    notices_when,
    relaying_app,
    sign_in,
    visitor,
)

IVAN = visitor("ivan")


async def erase(session: Session, password: str = PASSWORD) -> httpx.Response:
    return await session.http.request(
        "DELETE", "/api/auth/me", json={"password": password}, headers=session.headers
    )


async def placeholders_of(app, user_id: str) -> set[tuple[str, str]]:
    """The names and addresses the user's registrations and waiting entries show now."""
    async with database_of(app).transaction() as work:
        found = set()
        for model in (Registration, WaitlistEntry):
            rows = await work.session.execute(
                select(model.full_name, model.email).where(model.user_id == uuid.UUID(user_id))
            )
            found |= {(name, email) for name, email in rows}
    return found


async def test_an_erased_visitors_seat_goes_to_the_waiting_list_and_nothing_of_theirs_is_sent(
    database_url, notifications
):
    # Before: a confirmed registration, its ticket, and the two notices delivered.
    async with relaying_app(database_url, notifications) as (app, http):
        tokens = await register(http, "ivan")
        ivan_id = str(tokens["user"]["id"])
        ivan = Session(http, bearer(str(tokens["access_token"])))
        door = await door_staff(http, database_of(app))
        concert = await event_with_seats(database_of(app), 5)
        ticketed = await confirmed(ivan, notifications, concert.id, "ivan")
        ticket = (await ivan.get(f"/api/registrations/{ticketed['id']}/ticket")).json()

        async def delivered() -> bool:
            kept = await notices_kept(app, ivan_id)
            return len(kept) == 2 and all(message.status == "sent" for message in kept)

        await eventually(delivered)
    delivered_before = notices_to(notifications, IVAN["email"])

    # The erasure, with no relay running: what it leaves queued would be sent by the next one.
    async with running_app(make_settings(database_url)) as app, http_client(app) as http:
        ivan, door = Session(http, ivan.headers), Session(http, door.headers)
        maria, oleg = await sign_in(http), await sign_in(http)
        small = await event_with_seats(database_of(app), 1)
        other = await event_with_seats(database_of(app), 1)
        held = (await ivan.register(small.id, IVAN)).json()
        waiting = (await maria.join(small.id, visitor("maria"))).json()
        await oleg.register(other.id, visitor("oleg"))
        await ivan.join(other.id, IVAN)

        wrong = await erase(ivan, "not-the-password")
        unchanged = (await ivan.get(f"/api/registrations/{held['id']}")).json()
        erased = await erase(ivan)

        offered = (await maria.get(f"/api/waitlist/{waiting['id']}")).json()
        small_after = (await maria.get(f"/api/events/{small.id}")).json()
        other_after = (await maria.get(f"/api/events/{other.id}")).json()
        concert_after = (await maria.get(f"/api/events/{concert.id}")).json()
        refused = [
            await ivan.get("/api/auth/me"),
            await ivan.get("/api/events"),
            await ivan.get("/api/registrations"),
            await ivan.register(concert.id, IVAN),
        ]
        refreshed = await http.post(
            "/api/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        login = await http.post("/api/auth/login", json={"username": "ivan", "password": PASSWORD})
        at_the_door = await door.post("/api/checkin", scan(concert.id, ticket["token"]))
        again = await http.post(
            "/api/auth/register", json={"username": "ivan", "password": PASSWORD}
        )
        shown = await placeholders_of(app, ivan_id)
        kept = await notices_kept(app, ivan_id)

    # After: a relay runs; the offer reaches Maria, and her confirmation notice, queued after
    # everything the erasure left, is the barrier: once it is delivered, all of that was.
    async with (
        running_app(relay_settings(database_url, notifications.url)) as app,
        http_client(app) as http,
    ):
        maria = Session(http, maria.headers)
        code = await latest_code(notifications, visitor("maria")["email"])
        claimed = await maria.confirm(offered["registration_id"], code)
        await notices_when(notifications, visitor("maria")["email"], 2)

    assert (wrong.status_code, wrong.json()["type"]) == (401, "/problems/wrong-password")
    assert unchanged["status"] == "pending"
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "message": "Account erased",
        "registrations_cancelled": 2,
        "waiting_entries_left": 1,
        "notices_dropped": 3,  # the held seat's code, and the two cancellations' notices
        "notice_texts_deleted": 2,
        "sessions_ended": 1,
    }
    assert offered["status"] == "offered"
    assert claimed.status_code == 200
    assert (small_after["registrations_count"], small_after["waitlist_count"]) == (1, 0)
    assert (other_after["registrations_count"], other_after["waitlist_count"]) == (1, 0)
    assert concert_after["registrations_count"] == 0
    assert [response.status_code for response in refused] == [401, 401, 401, 401]
    assert refreshed.status_code == login.status_code == 401
    assert (at_the_door.status_code, at_the_door.json()["type"]) == (
        409,
        "/problems/revoked-ticket",
    )
    assert again.status_code == 201
    assert shown == {("Erased visitor", "erased@erased.invalid")}
    assert [(message.status, message.masked_text, message.payload) for message in kept] == [
        ("sent", None, {}),
        ("sent", None, {}),
    ]
    assert notices_to(notifications, IVAN["email"]) == delivered_before
    assert len(delivered_before) == 2


async def test_an_erased_accounts_token_is_refused_by_an_instance_started_after(database_url):
    await empty_database(database_url)
    async with running_app(make_settings(database_url)) as app, http_client(app) as http:
        ivan = await sign_in(http, "ivan")
        erased = await erase(ivan)
    async with running_app(make_settings(database_url)) as app, http_client(app) as http:
        refused = await http.get("/api/events", headers=ivan.headers)

    assert erased.status_code == 200
    assert refused.status_code == 401


@pytest.mark.postgresql_only("on SQLite there is one process, which knows its own erasures")
async def test_an_erasure_through_one_instance_refuses_the_token_on_another(database_url):
    await empty_database(database_url)
    settings = make_settings(database_url)
    async with running_app(settings) as first, running_app(settings) as second:
        await eventually(container_of(second).listener.connected.is_set)
        async with http_client(first) as one, http_client(second) as two:
            ivan = await sign_in(one, "ivan")
            event = await event_with_seats(database_of(first), 5)
            before = await two.get("/api/events", headers=ivan.headers)
            erased = await erase(ivan)

            async def refused_on_the_second() -> bool:
                answers = [
                    await two.get("/api/events", headers=ivan.headers),
                    await Session(two, ivan.headers).register(event.id, IVAN),
                ]
                return [answer.status_code for answer in answers] == [401, 401]

            await eventually(refused_on_the_second)

    assert before.status_code == 200
    assert erased.status_code == 200


async def test_staff_erase_an_account_from_the_admin_site(app):
    async with client_of(app) as http:
        ivan = await sign_in(http, "ivan")
        ivan_id = (await ivan.get("/api/auth/me")).json()["id"]
        event = await event_with_seats(database_of(app), 5)
        held = (await ivan.register(event.id, IVAN)).json()
        await register(http, "admin")
        await make_staff(database_of(app), "admin")
        await http.post("/admin/login", data={"username": "admin", "password": PASSWORD})

        listing = await http.get("/admin/user/list")
        action = await http.get(
            "/admin/user/action/erase", params={"pks": ivan_id}, follow_redirects=False
        )
        after = await http.get(action.headers["location"])
        twice = await http.get(
            "/admin/user/action/erase", params={"pks": ivan_id}, follow_redirects=True
        )
        refused = await ivan.get("/api/events")
        shown = await placeholders_of(app, ivan_id)

    assert "Erase the selected accounts" in listing.text
    assert action.status_code == 302
    assert (
        "Erased 1 account: 1 registration cancelled, 0 waiting entries left, "
        "2 undelivered notices dropped, 0 delivered texts deleted, 1 session ended."
    ) in after.text
    assert "Erased 0 accounts; 1 erased already." in twice.text
    assert "ivan" not in after.text
    assert refused.status_code == 401
    assert shown == {("Erased visitor", "erased@erased.invalid")}
    assert held["status"] == "pending"
