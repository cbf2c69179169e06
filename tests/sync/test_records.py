"""Reading provider records liberally (SPEC §6)."""

import uuid

import pytest

from app.provider.records import capacity_from_seats_pattern, read_event


@pytest.mark.parametrize(
    ("pattern", "seats"),
    [
        ("A1-30,B1-50", 80),
        ("A1-50,B1-100,C1-150,D1-200,E1-250", 750),
        (" A1 - 10 , B5-5 ", 11),
        ("1-20", 20),
        ("", None),
        (None, None),
        ("A1-B", None),
        ("A10-1", None),
        ("everything", None),
    ],
)
def test_capacity_from_the_seats_pattern(pattern, seats):
    assert capacity_from_seats_pattern(pattern) == seats


def test_only_id_and_name_are_required():
    event = read_event({"id": str(uuid.uuid4()), "name": "Митап"})
    assert event is not None
    assert (event.place, event.event_time, event.provider_status) == (None, None, "unknown")


def test_a_partial_place_is_read():
    place = {"id": str(uuid.uuid4()), "name": "Арена"}
    event = read_event({"id": str(uuid.uuid4()), "name": "Митап", "place": place})
    assert event is not None
    assert event.place is not None
    assert (event.place.name, event.place.city, event.place.capacity) == ("Арена", None, None)


def test_times_are_read_into_utc():
    event = read_event(
        {"id": str(uuid.uuid4()), "name": "x", "event_time": "2026-04-06T21:30:00.336769+03:00"}
    )
    assert event is not None
    assert event.event_time is not None
    assert event.event_time.isoformat() == "2026-04-06T18:30:00.336769+00:00"


@pytest.mark.parametrize("status", ["Published", "open", "closed", "postponed"])
def test_statuses_are_kept_as_given_in_lower_case(status):
    event = read_event({"id": str(uuid.uuid4()), "name": "x", "status": status})
    assert event is not None
    assert event.provider_status == status.lower()


@pytest.mark.parametrize(
    "record",
    [
        {"name": "no id"},
        {"id": "not-a-uuid", "name": "x"},
        {"id": str(uuid.uuid4())},
        {"id": str(uuid.uuid4()), "name": ""},
        {"id": str(uuid.uuid4()), "name": "x", "event_time": "next tuesday"},
        {"id": str(uuid.uuid4()), "name": "x", "place": {"name": "no id"}},
        "a string",
        None,
    ],
)
def test_an_unreadable_record_is_none(record):
    assert read_event(record) is None
