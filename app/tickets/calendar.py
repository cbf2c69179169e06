"""An event as an iCalendar file (RFC 5545), made with `icalendar`: one VEVENT whose UID never
changes for the event, whose SEQUENCE counts the times it was moved, so that a calendar that
imported it replaces the old entry, and whose STATUS turns CANCELLED once it is."""

from datetime import datetime

import icalendar

from app.events.models import Event

PRODUCT_ID = "-//events-face//tickets//RU"
UID_DOMAIN = "events-face"


def event_uid(event: Event) -> str:
    return f"{event.id}@{UID_DOMAIN}"


def calendar_file(event: Event, *, cancelled: bool, url: str | None, now: datetime) -> bytes:
    """`event` with its venue loaded and its time set; `cancelled` for the event or the
    visitor's registration; `url` where the entry points to (the ticket)."""
    assert event.event_time is not None
    entry = icalendar.Event()
    entry.add("uid", event_uid(event))
    entry.add("dtstamp", now)
    entry.add("dtstart", event.event_time)
    entry.add("summary", event.name)
    if event.venue is not None:
        entry.add("location", event.venue.place_line)
    entry.add("sequence", event.times_moved)
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if url:
        entry.add("url", url)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(entry)
    ical: bytes = calendar.to_ical()
    return ical
