"""The date in the visitor's calendar and the reminders before it (SPEC §4.6 "Calendar",
"Reminders"), through the API, with the events coming from the fake provider over HTTP and the
notices counted where they arrive, at the fake notification service.

- The `.ics` files (the registration's and the event's) keep one UID, follow the provider's
  reschedule (DTSTART, SEQUENCE) and cancellation (STATUS), and the notices link to them.
- Reminders: exactly one per confirmed registration, offset and event time, with two replicas
  each running the reminder loop (on PostgreSQL; one on SQLite); none for a pending, cancelled
  or late-confirmed visitor, none for a cancelled event, none once the event has started, and
  again for the new time after a reschedule.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from fastapi import FastAPI

from app.dependencies import container_of
from app.sync.service import SyncMode
from fakes.notifications import FakeNotifications
from fakes.provider import FakeProvider
from tests.conftest import http_client, running_app
from tests.registrations.test_upstream_changes import later, open_event
from tests.support.database import empty_database
from tests.support.notifications import eventually, notifications, relay_settings
from tests.support.servers import served_provider
from tests.support.visitors import Session, latest_code, notices_to, notices_when, sign_in, visitor

__all__ = ["notifications"]  # fixtures

CALENDAR_TYPE = "text/calendar"
REMINDER_MARK = "Напоминаем"
OFFSETS = (4, 2)  # seconds before the event; the loop runs every REMINDER_INTERVAL
REMINDER_INTERVAL = 0.2
PUBLIC_BASE_URL = "https://tickets.example.org"


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[FakeProvider]:
    async with served_provider() as fake:
        yield fake


@asynccontextmanager
async def provided_apps(
    database_url: str,
    notifications: FakeNotifications,
    provider: FakeProvider,
    count: int = 1,
    **settings: object,
) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    """`count` app instances over empty tables, each relaying to the fake notification service
    and reading the fake provider (the first one runs the syncs)."""
    await empty_database(database_url)  # before the relays start: nothing left queued
    notifications.reset()
    provider.reset()
    values = relay_settings(
        database_url, notifications.url, events_provider_url=provider.url, **settings
    )
    async with AsyncExitStack() as stack:
        apps = [await stack.enter_async_context(running_app(values)) for _ in range(count)]
        yield [(app, await stack.enter_async_context(http_client(app))) for app in apps]


async def synced(app: FastAPI, provider: FakeProvider, *records: dict[str, Any]) -> None:
    """The provider now publishes `records`, and `app` has synced them."""
    provider.reset(list(records))
    run = await container_of(app).sync.run(SyncMode.ALL)
    assert run is not None
    assert run.status == "success", run.error


def event_record(start: datetime, **fields: Any) -> dict[str, Any]:
    """An open event of the provider's (a new id each time), starting at `start`."""
    return {
        **open_event(seats=10),
        "id": str(uuid.uuid4()),
        "event_time": start.isoformat(),
        "registration_deadline": None,
        **fields,
    }


def whole_seconds_from_now(seconds: float) -> datetime:
    """A moment `seconds` or a little more from now, in whole seconds (as iCalendar keeps it)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds + 1)).replace(microsecond=0)


async def confirmed(
    session: Session, notifications: FakeNotifications, event_id: object, who: str
) -> dict[str, Any]:
    registration = await registered(session, event_id, who)
    return await confirm_with_code(session, notifications, registration, who)


async def registered(session: Session, event_id: object, who: str) -> dict[str, Any]:
    answer = await session.register(event_id, visitor(who))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def confirm_with_code(
    session: Session, notifications: FakeNotifications, registration: dict[str, Any], who: str
) -> dict[str, Any]:
    code = await latest_code(notifications, visitor(who)["email"])
    answer = await session.confirm(registration["id"], code)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# -- the calendar files -----------------------------------------------------------------------


async def calendar_entry(session: Session, path: str) -> icalendar.Event:
    """The one VEVENT of the calendar file at `path`."""
    answer = await session.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(CALENDAR_TYPE)
    calendar = icalendar.Calendar.from_ical(answer.content)
    [entry] = calendar.walk("VEVENT")
    return entry


def described(entry: icalendar.Event) -> dict[str, Any]:
    return {
        "uid": str(entry["UID"]),
        "start": entry.decoded("DTSTART"),
        "summary": str(entry["SUMMARY"]),
        "location": str(entry.get("LOCATION", "")),
        "sequence": int(entry.decoded("SEQUENCE")),
        "status": str(entry["STATUS"]),
        "url": str(entry.get("URL", "")),
    }


async def calendar_files(
    session: Session, registration_id: str, event_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The registration's calendar entry and the event's, as seen by `session`."""
    mine = await calendar_entry(session, f"/api/registrations/{registration_id}/calendar.ics")
    public = await calendar_entry(session, f"/api/events/{event_id}/calendar.ics")
    return described(mine), described(public)


async def test_calendar_files_follow_the_event_moved_and_cancelled_upstream(
    database_url, notifications, provider
):
    start = whole_seconds_from_now(30 * 86400)
    event = event_record(start, registration_deadline=(start - timedelta(days=1)).isoformat())
    async with provided_apps(
        database_url, notifications, provider, public_base_url=PUBLIC_BASE_URL
    ) as [(app, http)]:
        await synced(app, provider, event)
        ivan, maria = await sign_in(http), await sign_in(http)
        registration = await confirmed(ivan, notifications, event["id"], "ivan")
        dropped = await confirmed(ivan, notifications, event["id"], "dropped")
        await ivan.delete(f"/api/registrations/{dropped['id']}")
        ticket_path = f"/api/registrations/{registration['id']}/ticket"
        calendar_path = f"/api/registrations/{registration['id']}/calendar.ics"

        before = await calendar_files(ivan, registration["id"], event["id"])
        dropped_before = described(
            await calendar_entry(ivan, f"/api/registrations/{dropped['id']}/calendar.ics")
        )
        not_hers = await maria.get(calendar_path)
        her_event_file = described(
            await calendar_entry(maria, f"/api/events/{event['id']}/calendar.ics")
        )
        anonymous = await http.get(f"/api/events/{event['id']}/calendar.ics")
        unknown = await ivan.get(f"/api/events/{uuid.uuid4()}/calendar.ics")

        new_start = start + timedelta(days=1, hours=2)
        moved = later(event, event_time=new_start.isoformat())
        await synced(app, provider, moved)
        await synced(app, provider, moved)  # applied again: moved once
        await synced(app, provider, later(moved))  # a newer record, the same time: moved once
        after_move = await calendar_files(ivan, registration["id"], event["id"])

        await synced(app, provider, later(later(moved), status="cancelled"))
        after_cancel = await calendar_files(ivan, registration["id"], event["id"])

        told = await notices_when(notifications, visitor("ivan")["email"], 4)

    uid = f"{event['id']}@events-face"
    place = event["place"]
    for mine, public in (before, after_move, after_cancel):
        assert mine["uid"] == public["uid"] == uid
        assert mine["summary"] == public["summary"] == event["name"]
        for entry in (mine, public):
            assert place["name"] in entry["location"]
            assert place["city"] in entry["location"]
        assert mine["url"].endswith(ticket_path)
        assert public["url"] == ""

    assert [(entry["start"], entry["sequence"], entry["status"]) for entry in before] == [
        (start, 0, "CONFIRMED")
    ] * 2
    assert [(entry["start"], entry["sequence"], entry["status"]) for entry in after_move] == [
        (new_start, 1, "CONFIRMED")
    ] * 2
    assert [(entry["start"], entry["sequence"], entry["status"]) for entry in after_cancel] == [
        (new_start, 1, "CANCELLED")
    ] * 2

    # a registration the visitor cancelled is cancelled in their calendar, not the event's
    assert (dropped_before["uid"], dropped_before["status"]) == (uid, "CANCELLED")
    assert her_event_file == before[1]  # any user's
    assert not_hers.status_code == 404
    assert anonymous.status_code == 401
    assert unknown.status_code == 404

    # the notices name the event, its time and place, and link from PUBLIC_BASE_URL, not from
    # the host the visitor used (that fallback: tests/outbox/test_local_notices.py)
    [confirmation] = [notice for notice in told if "подтверждена" in notice]
    [rescheduled] = [notice for notice in told if "перенесено" in notice]
    links = (f"{PUBLIC_BASE_URL}{ticket_path}", f"{PUBLIC_BASE_URL}{calendar_path}")
    for notice, moment in ((confirmation, start), (rescheduled, new_start)):
        assert f"«{event['name']}»" in notice
        assert moment.strftime("%d.%m.%Y %H:%M UTC") in notice
        assert all(link in notice for link in links), notice
        assert "testserver" not in notice
    assert f"{place['name']}, {place['city']}" in confirmation


# -- the reminders ----------------------------------------------------------------------------


def reminders_to(notifications: FakeNotifications, who: str) -> int:
    """How many reminders the notification service created for `visitor(who)`."""
    return sum(
        REMINDER_MARK in notice for notice in notices_to(notifications, visitor(who)["email"])
    )


def all_reminders(notifications: FakeNotifications) -> int:
    return sum(
        REMINDER_MARK in received.body.get("message", "")
        for received in notifications.received
        if received.status == 201
    )


async def until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


def windows_before(confirmed_at: str, event_time: datetime) -> int:
    """For how many offsets the visitor was confirmed before the reminder's window opened."""
    at = datetime.fromisoformat(confirmed_at)
    return sum(at < event_time - timedelta(seconds=offset) for offset in OFFSETS)


async def test_each_confirmed_visitor_is_reminded_once_per_offset_and_event_time(
    database_url, notifications, provider
):
    replicas = 2 if database_url.startswith("postgresql") else 1
    far = whole_seconds_from_now(30 * 86400)
    event, doomed = event_record(far), event_record(far)
    async with provided_apps(
        database_url,
        notifications,
        provider,
        replicas,
        reminders_before_seconds=",".join(map(str, OFFSETS)),
        reminder_interval_seconds=REMINDER_INTERVAL,
    ) as running:
        first = running[0][0]
        await synced(first, provider, event, doomed)
        names = ["anna", "boris", "cancelled", "pending", "late", "doomed"]
        sessions = {name: await sign_in(running[n % replicas][1]) for n, name in enumerate(names)}
        # everyone registered (and the early ones confirmed) while the event is a month away
        for name in ("anna", "boris"):
            await confirmed(sessions[name], notifications, event["id"], name)
        cancelled = await confirmed(sessions["cancelled"], notifications, event["id"], "cancelled")
        await sessions["cancelled"].delete(f"/api/registrations/{cancelled['id']}")
        await registered(sessions["pending"], event["id"], "pending")
        late = await registered(sessions["late"], event["id"], "late")
        await latest_code(notifications, visitor("late")["email"])
        await confirmed(sessions["doomed"], notifications, doomed["id"], "doomed")

        # the provider moves the event to a few seconds from now and cancels the other one,
        # so close to now that the longest offset's window is already open when the move
        # reaches us: "late" is confirmed inside that window, before the move, the others
        # long before it
        first_time = datetime.now(UTC) + timedelta(seconds=max(OFFSETS) + 0.3)
        await until(first_time - timedelta(seconds=max(OFFSETS)))
        late = await confirm_with_code(sessions["late"], notifications, late, "late")
        moved = later(event, event_time=first_time.isoformat())
        called_off = later(doomed, event_time=first_time.isoformat(), status="cancelled")
        await synced(first, provider, moved, called_off)
        late_first = windows_before(late["confirmed_at"], first_time)
        assert late_first < len(OFFSETS)  # inside the longest window: none for that offset
        expected_first = {"anna": 2, "boris": 2, "late": late_first}
        await eventually(lambda: all_reminders(notifications) >= sum(expected_first.values()))
        counted_first = {name: reminders_to(notifications, name) for name in names}

        # the provider moves it again: every confirmed visitor, "late" too, was confirmed
        # before the new windows open
        second_time = whole_seconds_from_now(1 + max(OFFSETS))
        await synced(first, provider, later(moved, event_time=second_time.isoformat()), called_off)
        expected = {"anna": 4, "boris": 4, "late": late_first + 2}
        await eventually(lambda: all_reminders(notifications) >= sum(expected.values()))
        await until(second_time + timedelta(seconds=REMINDER_INTERVAL * 2))
        settled = all_reminders(notifications)
        await asyncio.sleep(1)  # the event has started: nothing more, from any replica
        counted = {name: reminders_to(notifications, name) for name in names}
        total = all_reminders(notifications)

    nobody_else = {"cancelled": 0, "pending": 0, "doomed": 0}
    assert counted_first == {**expected_first, **nobody_else}
    assert counted == {**expected, **nobody_else}
    assert settled == total == sum(expected.values())
