"""A visitor's own data (SPEC §4.7): the export holds everything stored about the account, and
a confirmation code is kept in clear only until its notice is delivered, or given up on."""

import uuid

from fakes.notifications import Behaviour
from tests.conftest import database_of
from tests.support.auth import PASSWORD, bearer, make_staff, register
from tests.support.door import confirmed, door_staff, scan
from tests.support.events import event_with_seats
from tests.support.notifications import eventually
from tests.support.own_data import notices_kept
from tests.support.visitors import CODE, Session, notices_to, relaying_app, sign_in, visitor

MASKED = "Ваш код подтверждения: ******"


async def signed_up(http, username: str) -> tuple[Session, str]:
    """A new account's session, and its id."""
    tokens = await register(http, username)
    return Session(http, bearer(str(tokens["access_token"]))), str(tokens["user"]["id"])


async def export_of(session: Session) -> dict:
    response = await session.get("/api/auth/me/export")
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_export_holds_the_account_its_registrations_entries_notices_and_check_ins(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan, ivan_id = await signed_up(http, "ivan")
        maria = await sign_in(http)
        door = await door_staff(http, database_of(app))
        concert = await event_with_seats(database_of(app), 5, name="Концерт")
        lecture = await event_with_seats(database_of(app), 1, name="Лекция")
        registration = await confirmed(ivan, notifications, concert.id, "ivan")
        ticket = (await ivan.get(f"/api/registrations/{registration['id']}/ticket")).json()
        admitted = await door.post("/api/checkin", scan(concert.id, ticket["token"]))
        await maria.register(lecture.id, visitor("maria"))
        entry = (await ivan.join(lecture.id, visitor("ivan"))).json()

        async def both_notices_delivered() -> bool:
            notices = (await export_of(ivan))["notices"]
            return len(notices) == 2 and all(notice["status"] == "sent" for notice in notices)

        await eventually(both_notices_delivered)
        export = await export_of(ivan)
        kept = await notices_kept(app, ivan_id)
    sent_code, sent_confirmation = notices_to(notifications, visitor("ivan")["email"])
    code = CODE.search(sent_code)
    assert code

    assert admitted.status_code == 200
    assert export["account"]["id"] == ivan_id
    assert export["account"]["username"] == "ivan"
    [exported] = export["registrations"]
    assert exported["id"] == registration["id"]
    assert exported["event_name"] == "Концерт"
    assert exported["full_name"] == visitor("ivan")["full_name"]
    assert exported["email"] == visitor("ivan")["email"]
    assert exported["status"] == "confirmed"
    assert exported["checked_in_at"] is not None
    assert exported["ticket_version"] == 1
    [waiting] = export["waiting_entries"]
    assert (waiting["id"], waiting["event_name"]) == (entry["id"], "Лекция")
    assert (waiting["status"], waiting["position"]) == ("waiting", 1)
    code_notice, confirmation = export["notices"]
    assert code_notice["kind"] == "registration.code"
    assert MASKED in code_notice["text"]
    assert code["code"] not in code_notice["text"]
    assert code_notice["text"] == sent_code.replace(code["code"], "******")
    assert confirmation["kind"] == "registration.confirmed"
    assert confirmation["text"] == sent_confirmation
    assert all(notice["sent_at"] for notice in export["notices"])
    [check_in] = export["check_ins"]
    assert check_in["registration_id"] == registration["id"]
    assert (check_in["event_id"], check_in["result"]) == (str(concert.id), "ok")
    [session] = export["sessions"]
    assert session["revoked_at"] is None
    # In the database as in the export: the address and the code went with the delivery.
    assert [message.payload for message in kept] == [{}, {}]
    assert [message.masked_text for message in kept] == [code_notice["text"], sent_confirmation]


async def test_an_export_shows_nobody_elses_data(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan, _ = await signed_up(http, "ivan")
        maria = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        await maria.register(event.id, visitor("maria"))

        export = await export_of(ivan)
        anonymous = await http.get("/api/auth/me/export")

    assert (export["registrations"], export["waiting_entries"], export["notices"]) == ([], [], [])
    assert anonymous.status_code == 401


async def test_a_code_whose_notice_is_given_up_on_is_masked_too(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        notifications.behaviour = Behaviour(fail_next=1_000_000, fail_status=500)
        ivan, ivan_id = await signed_up(http, "ivan")
        event = await event_with_seats(database_of(app), 5)
        await ivan.register(event.id, visitor("ivan"))

        async def dead() -> bool:
            return [notice["status"] for notice in (await export_of(ivan))["notices"]] == ["dead"]

        await eventually(dead)
        [notice] = (await export_of(ivan))["notices"]
        [kept] = await notices_kept(app, ivan_id)
        await register(http, "admin")
        await make_staff(database_of(app), "admin")
        await http.post("/admin/login", data={"username": "admin", "password": PASSWORD})
        in_the_admin = await http.get(f"/admin/outbox-message/details/{notice['id']}")
    code = CODE.search(notifications.received[0].body["message"])
    assert code

    assert MASKED in notice["text"]
    assert kept.masked_text == notice["text"]
    # Kept for an operator's requeue: the address, and the text without its code.
    assert kept.payload == {"email": visitor("ivan")["email"], "message": notice["text"]}
    assert code["code"] not in str(kept.payload)
    assert MASKED in in_the_admin.text
    assert code["code"] not in in_the_admin.text
    assert uuid.UUID(str(notice["id"])) == kept.id
