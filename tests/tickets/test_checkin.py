"""Check-in at the door (SPEC §4.6): door staff scan tickets online, or offline and upload later;
each outcome has its own problem type; a ticket is checked in once, however many replicas scan
it at once; a scan sent again with its nonce gets its first answer."""

import asyncio
from datetime import datetime, timedelta

from app.core.database import utcnow
from tests.conftest import database_of
from tests.support.auth import PASSWORD, admin_login, make_staff
from tests.support.database import empty_database
from tests.support.door import confirmed, door_staff, new_nonce, scan
from tests.support.events import event_with_seats, update_event
from tests.support.metrics import sample
from tests.support.notifications import NOTIFICATIONS_TOKEN
from tests.support.replicas import replicas
from tests.support.visitors import relaying_app, sign_in


async def ticket_token(session, registration) -> str:
    return (await session.get(f"/api/registrations/{registration['id']}/ticket")).json()["token"]


async def test_each_outcome_of_a_scan_has_its_own_problem_type(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        other = await event_with_seats(database_of(app), 5)
        admitted = await confirmed(ivan, notifications, event.id, "admitted")
        elsewhere = await confirmed(ivan, notifications, other.id, "elsewhere")
        token = await ticket_token(ivan, admitted)

        ok = await door.post("/api/checkin", scan(event.id, token))
        again = await door.post("/api/checkin", scan(event.id, token))
        wrong_event = await door.post(
            "/api/checkin", scan(event.id, await ticket_token(ivan, elsewhere))
        )
        unknown_event = await door.post("/api/checkin", scan(event.id.hex[::-1], token))
        shown = (await ivan.get(f"/api/registrations/{admitted['id']}")).json()
        await update_event(database_of(app), other.id, provider_status="cancelled")
        cancelled = await door.post(
            "/api/checkin", scan(other.id, await ticket_token(ivan, elsewhere))
        )
        metrics = (await http.get("/metrics")).text

    assert ok.status_code == 200, ok.text
    assert ok.json()["result"] == "ok"
    assert ok.json()["registration"]["full_name"] == admitted["full_name"]
    assert "email" not in ok.json()["registration"]
    first = ok.json()["checked_in_at"]
    assert (again.status_code, again.json()["type"]) == (409, "/problems/already-checked-in")
    assert again.json()["checked_in_at"] == first
    assert again.json()["full_name"] == admitted["full_name"]
    assert (wrong_event.status_code, wrong_event.json()["type"]) == (409, "/problems/wrong-event")
    assert wrong_event.json()["full_name"] is None  # nothing of another event's visitor
    assert unknown_event.status_code == 404
    assert (cancelled.status_code, cancelled.json()["type"]) == (409, "/problems/event-cancelled")
    assert shown["checked_in_at"] == first
    assert sample(metrics, "checkin_scans_total", result="ok") == 1
    assert sample(metrics, "checkin_scans_total", result="already-checked-in") == 1
    assert sample(metrics, "checkin_scans_total", result="wrong-event") == 1


async def test_only_door_staff_and_staff_scan_and_the_door_role_grants_nothing_else(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http, "ivan")
        door = await door_staff(http, database_of(app))
        admin = await door_staff(http, database_of(app), "admin")
        await make_staff(database_of(app), "admin")
        event = await event_with_seats(database_of(app), 5)
        registration = await confirmed(ivan, notifications, event.id)
        body = scan(event.id, await ticket_token(ivan, registration))

        visitor_scan = await ivan.post("/api/checkin", body)
        visitor_list = await ivan.get(f"/api/events/{event.id}/attendees")
        visitor_batch = await ivan.post("/api/checkin/batch", {"scans": []})
        door_sync = await door.get("/api/sync/runs")
        door_sync_trigger = await door.post("/api/sync/trigger", {})
        door_ticket = await door.get(f"/api/registrations/{registration['id']}/ticket")
        door_admin = await admin_login(http, "door")
        door_me = (await door.get("/api/auth/me")).json()
        staff_scan = await admin.post("/api/checkin", body)

    for refused in (visitor_scan, visitor_list, visitor_batch):
        assert (refused.status_code, refused.json()["type"]) == (403, "/problems/door-only")
    assert door_sync.status_code == door_sync_trigger.status_code == 403
    assert door_ticket.status_code == 404  # a visitor's ticket is theirs alone
    assert door_admin.status_code == 400  # sqladmin's refused login
    assert (door_me["is_door"], door_me["is_staff"]) == (True, False)
    assert staff_scan.json()["result"] == "ok"


async def test_a_scan_sent_again_with_its_nonce_gets_its_first_answer(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        token = await ticket_token(ivan, await confirmed(ivan, notifications, event.id))
        nonce = new_nonce()

        first = await door.post("/api/checkin", scan(event.id, token, nonce))
        resent = await door.post("/api/checkin", scan(event.id, token, nonce))
        other_device = await door.post("/api/checkin", scan(event.id, token, new_nonce()))
        resent_refusal = await door.post("/api/checkin", scan(event.id, token, nonce))
        metrics = (await http.get("/metrics")).text

    assert (first.status_code, resent.status_code) == (200, 200)
    assert resent.json() == first.json()
    assert resent_refusal.json() == first.json()
    assert other_device.json()["type"] == "/problems/already-checked-in"
    assert sample(metrics, "checkin_scans_total", result="ok") == 1
    assert sample(metrics, "checkin_scans_total", result="already-checked-in") == 1


async def test_a_nonce_sent_with_another_ticket_is_refused_and_reveals_nothing(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        other_event = await event_with_seats(database_of(app), 5)
        first = await ticket_token(ivan, await confirmed(ivan, notifications, event.id, "first"))
        second = await ticket_token(ivan, await confirmed(ivan, notifications, event.id, "2nd"))
        nonce = "device-0001"  # two scanners counting their scans from 1

        admitted = await door.post("/api/checkin", scan(event.id, first, nonce))
        another_ticket = await door.post("/api/checkin", scan(event.id, second, nonce))
        another_event = await door.post("/api/checkin", scan(other_event.id, first, nonce))
        batch = await door.post(
            "/api/checkin/batch",
            {
                "scans": [
                    scan(event.id, second, nonce, scanned_at=utcnow().isoformat()),
                    scan(event.id, first, nonce, scanned_at=utcnow().isoformat()),
                ]
            },
        )
        second_scanned = await door.post("/api/checkin", scan(event.id, second, new_nonce()))
        metrics = (await http.get("/metrics")).text

    assert admitted.status_code == 200
    for refused in (another_ticket, another_event):
        assert refused.status_code == 409
        assert refused.json()["type"] == "/problems/nonce-reused"
        assert refused.json()["full_name"] is None
        assert refused.json()["checked_in_at"] is None
    reused, replayed = batch.json()["results"]
    assert (reused["result"], reused["registration"]) == ("nonce-reused", None)
    assert reused["type"] == "/problems/nonce-reused"
    assert replayed["result"] == "ok"  # the nonce's own scan, sent again
    assert second_scanned.json()["result"] == "ok"  # never checked in by the reused nonce
    assert sample(metrics, "checkin_scans_total", result="nonce-reused") == 3
    assert sample(metrics, "checkin_scans_total", result="ok") == 2


async def test_an_offline_batch_checks_in_the_first_scan_and_uploading_it_twice_changes_nothing(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        await make_staff(database_of(app), "door")
        event = await event_with_seats(database_of(app), 5)
        shown_twice = await confirmed(ivan, notifications, event.id, "twice")
        once = await confirmed(ivan, notifications, event.id, "once")
        twice_token, once_token = (
            await ticket_token(ivan, shown_twice),
            await ticket_token(ivan, once),
        )
        at = utcnow() - timedelta(minutes=10)
        scans = [
            # Two devices admitted the same ticket while offline; the first upload counts.
            scan(
                event.id,
                twice_token,
                new_nonce(),
                scanned_at=(at + timedelta(minutes=2)).isoformat(),
            ),
            scan(event.id, twice_token, new_nonce(), scanned_at=at.isoformat()),
            scan(event.id, once_token, new_nonce(), scanned_at=at.isoformat()),
            scan(event.id, "forged", new_nonce(), scanned_at=at.isoformat()),
        ]

        uploaded = await door.post("/api/checkin/batch", {"scans": scans})
        again = await door.post("/api/checkin/batch", {"scans": scans})
        too_many = await door.post("/api/checkin/batch", {"scans": scans * 126})
        no_nonce = await door.post(
            "/api/checkin/batch", {"scans": [scan(event.id, once_token, scanned_at=at.isoformat())]}
        )
        admin = await http.post("/admin/login", data={"username": "door", "password": PASSWORD})
        listed = await http.get("/admin/checkin-scan/list")

    assert uploaded.status_code == 200, uploaded.text
    results = uploaded.json()["results"]
    assert [result["result"] for result in results] == [
        "ok",
        "already-checked-in",
        "ok",
        "invalid-ticket",
    ]
    assert [result["nonce"] for result in results] == [body["nonce"] for body in scans]
    checked_in = datetime.fromisoformat(results[0]["checked_in_at"])
    assert checked_in == at + timedelta(minutes=2)  # the first to reach us, at its scanned_at
    assert results[1]["checked_in_at"] == results[0]["checked_in_at"]
    assert results[1]["type"] == "/problems/already-checked-in"
    assert results[3]["type"] == "/problems/invalid-ticket"
    assert results[0]["type"] is None
    assert again.json() == uploaded.json()
    assert too_many.status_code == 422
    assert no_nonce.status_code == 422
    assert admin.status_code == 302
    assert listed.status_code == 200
    assert listed.text.count("already-checked-in") >= 1
    assert shown_twice["full_name"] in listed.text


async def test_the_attendee_list_keeps_an_offline_scanner_in_step(database_url, notifications):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        unchanged_since = await confirmed(ivan, notifications, event.id, "unchanged")
        kept = await confirmed(ivan, notifications, event.id, "kept")
        leaving = await confirmed(ivan, notifications, event.id, "leaving")
        await ivan.register(event.id)  # pending: no ticket yet
        url = f"/api/events/{event.id}/attendees"

        full = await door.get(url)
        etag = full.headers["etag"]
        unchanged = await door.http.get(url, headers={**door.headers, "If-None-Match": etag})
        since = full.json()["results"][-1]["changed_at"]
        await ivan.delete(f"/api/registrations/{leaving['id']}")
        await ivan.post(f"/api/registrations/{kept['id']}/ticket/reissue")
        changed = await door.http.get(url, headers={**door.headers, "If-None-Match": etag})
        delta = await door.http.get(url, params={"changed_since": since}, headers=door.headers)
        naive = await door.http.get(
            url, params={"changed_since": "2026-01-01T00:00:00"}, headers=door.headers
        )

    assert full.status_code == 200
    entries = {entry["registration_id"]: entry for entry in full.json()["results"]}
    assert set(entries) == {unchanged_since["id"], kept["id"], leaving["id"]}
    assert set(entries[kept["id"]]) == {
        "registration_id",
        "ticket_version",
        "full_name",
        "checked_in_at",
        "revoked",
        "changed_at",
    }
    assert entries[kept["id"]]["ticket_version"] == 1
    assert not entries[leaving["id"]]["revoked"]
    assert unchanged.status_code == 304
    assert changed.status_code == 200
    after = {entry["registration_id"]: entry for entry in delta.json()["results"]}
    assert set(after) == {kept["id"], leaving["id"]}  # not the ticket that did not change
    assert after[leaving["id"]]["revoked"] is True
    assert after[kept["id"]]["ticket_version"] == 2
    assert naive.status_code == 422


async def test_twenty_simultaneous_scans_of_one_ticket_through_two_replicas_check_in_once(
    database_url, notifications
):
    await empty_database(database_url)  # nothing left queued for the replicas' relays
    notifications.reset()
    relay = {
        "outbox_relay_enabled": True,
        "notifications_url": notifications.url,
        "notifications_token": NOTIFICATIONS_TOKEN,
        "outbox_poll_interval_seconds": 0.05,
    }
    async with replicas(database_url, **relay) as running:
        app, sessions = running.app, running.sessions
        await make_staff(database_of(app), "concurrency")  # staff may scan
        event = await event_with_seats(database_of(app), 5)
        registration = await confirmed(sessions[0], notifications, event.id)
        token = await ticket_token(sessions[0], registration)

        answers = await asyncio.gather(
            *(
                sessions[n % len(sessions)].post("/api/checkin", scan(event.id, token))
                for n in range(20)
            )
        )
        shown = (await sessions[0].get(f"/api/registrations/{registration['id']}")).json()

    results = [answer.json().get("result") or answer.json()["type"] for answer in answers]
    assert results.count("ok") == 1
    assert results.count("/problems/already-checked-in") == 19
    first = next(answer.json() for answer in answers if answer.status_code == 200)
    assert {answer.json()["checked_in_at"] for answer in answers} == {first["checked_in_at"]}
    assert shown["checked_in_at"] == first["checked_in_at"]
