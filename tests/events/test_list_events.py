"""GET /api/events and /api/events/{id} (SPEC §4.2), black-box through HTTP."""

import uuid
from datetime import timedelta

import httpx
import pytest

from app.core.database import utcnow
from tests.support.auth import access_token, bearer
from tests.support.events import create_event, create_venue


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await access_token(client))


async def names(client: httpx.AsyncClient, auth: dict[str, str], **params: object) -> list[str]:
    response = await client.get("/api/events", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return [event["name"] for event in response.json()["results"]]


async def test_the_list_needs_a_token(client):
    response = await client.get("/api/events")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_empty_catalogue_is_an_empty_first_page(client, auth):
    response = await client.get("/api/events", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_an_event_has_every_field_of_the_contract(client, auth, db):
    venue = await create_venue(db, seats_pattern="A1-30,B1-50", capacity=80)
    event = await create_event(db, venue=venue, name="Саммит по SEO", registrations_count=3)
    body = (await client.get(f"/api/events/{event.id}", headers=auth)).json()
    assert body == {
        "id": str(event.id),
        "name": "Саммит по SEO",
        "event_time": body["event_time"],
        "registration_deadline": body["registration_deadline"],
        "status": "open",
        "provider_status": "published",
        "number_of_visitors": 0,
        "venue": {
            "id": str(venue.id),
            "name": venue.name,
            "city": venue.city,
            "address": venue.address,
        },
        "capacity": 80,
        "registrations_count": 3,
        "seats_left": 77,
        "waitlist_count": 0,
    }
    assert body["event_time"].endswith("Z")


async def test_unknown_capacity_leaves_seats_left_null(client, auth, db):
    event = await create_event(db)
    body = (await client.get(f"/api/events/{event.id}", headers=auth)).json()
    assert (body["venue"], body["capacity"], body["seats_left"]) == (None, None, None)


async def test_an_unknown_event_is_404(client, auth):
    response = await client.get(f"/api/events/{uuid.uuid4()}", headers=auth)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_malformed_event_id_is_422(client, auth):
    assert (await client.get("/api/events/not-a-uuid", headers=auth)).status_code == 422


@pytest.mark.parametrize("parameter", ["name", "search"])
async def test_name_search_folds_case_in_every_language(client, auth, db, parameter):
    await create_event(db, name="Конференция по Python")
    await create_event(db, name="STRASSE Meetup")
    await create_event(db, name="Митап по Go")
    assert await names(client, auth, **{parameter: "конференция"}) == ["Конференция по Python"]
    assert await names(client, auth, **{parameter: "КОНФЕРЕНЦИЯ ПО"}) == ["Конференция по Python"]
    assert await names(client, auth, **{parameter: "straße"}) == ["STRASSE Meetup"]
    assert await names(client, auth, **{parameter: "python"}) == ["Конференция по Python"]


async def test_search_treats_wildcards_literally(client, auth, db):
    await create_event(db, name="100% Python")
    await create_event(db, name="1000 Python")
    assert await names(client, auth, name="100%") == ["100% Python"]
    assert await names(client, auth, name="_") == []


async def test_status_is_computed_against_the_current_time(client, auth, db):
    now = utcnow()
    await create_event(db, name="open")
    await create_event(db, name="new", provider_status="new")
    await create_event(db, name="no deadline", registration_deadline=None)
    await create_event(db, name="deadline passed", registration_deadline=now - timedelta(1))
    await create_event(db, name="closed by provider", provider_status="registration_closed")
    await create_event(db, name="unknown status", provider_status="postponed")
    opened = await names(client, auth, status="open", ordering="name")
    closed = await names(client, auth, status="closed", ordering="name")
    assert opened == ["new", "no deadline", "open"]
    assert closed == ["closed by provider", "deadline passed", "unknown status"]


async def test_date_bounds_accept_dates_and_datetimes(client, auth, db):
    base = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=10)
    for offset in range(3):
        await create_event(db, name=f"day {offset}", event_time=base + timedelta(days=offset))
    day1 = (base + timedelta(days=1)).date().isoformat()
    assert await names(client, auth, date_from=day1) == ["day 1", "day 2"]
    assert await names(client, auth, date_to=day1) == ["day 0", "day 1"]
    assert await names(client, auth, date_from=day1, date_to=day1) == ["day 1"]
    noon = (base + timedelta(days=1)).isoformat()
    assert await names(client, auth, date_to=noon) == ["day 0", "day 1"]
    assert await names(client, auth, date_from=noon.replace("+00:00", "Z")) == ["day 1", "day 2"]
    just_after = f"{day1}T12:00:01+00:00"
    assert await names(client, auth, date_from=just_after) == ["day 2"]


async def test_venue_filter(client, auth, db):
    arena, hall = await create_venue(db), await create_venue(db, name="Hall")
    await create_event(db, name="at the arena", venue=arena)
    await create_event(db, name="in the hall", venue=hall)
    assert await names(client, auth, venue=str(hall.id)) == ["in the hall"]


async def test_filters_combine(client, auth, db):
    arena = await create_venue(db)
    await create_event(db, name="Python open at arena", venue=arena)
    await create_event(db, name="Python closed at arena", venue=arena, provider_status="finished")
    await create_event(db, name="Python open elsewhere")
    await create_event(db, name="Go open at arena", venue=arena)
    found = await names(client, auth, name="python", status="open", venue=str(arena.id))
    assert found == ["Python open at arena"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("event_time", ["b", "c", "a"]),
        ("-event_time", ["a", "c", "b"]),
        ("name", ["a", "b", "c"]),
        ("-name", ["c", "b", "a"]),
    ],
)
async def test_ordering(client, auth, db, ordering, expected):
    now = utcnow()
    for name, days in (("a", 30), ("b", 10), ("c", 20)):
        await create_event(db, name=name, event_time=now + timedelta(days=days))
    assert await names(client, auth, ordering=ordering) == expected


async def test_events_without_a_time_come_last(client, auth, db):
    await create_event(db, name="timeless", event_time=None, registration_deadline=None)
    await create_event(db, name="timed")
    assert await names(client, auth) == ["timed", "timeless"]
    assert await names(client, auth, ordering="-event_time") == ["timed", "timeless"]


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "venue"},
        {"status": "maybe"},
        {"date_from": "yesterday"},
        {"date_to": "2026-13-01"},
        {"venue": "arena"},
        {"page": "0"},
        {"page": "two"},
        {"page_size": "0"},
        {"page_size": "101"},
    ],
)
async def test_malformed_values_are_422_with_one_error_naming_the_field(client, auth, params):
    response = await client.get("/api/events", params=params, headers=auth)
    assert response.status_code == 422
    [name] = params
    assert [error["loc"] for error in response.json()["errors"]] == [["query", name]]


async def test_unknown_parameters_are_ignored(client, auth):
    response = await client.get("/api/events", params={"colour": "blue"}, headers=auth)
    assert response.status_code == 200


async def test_pages_cover_every_event_once_with_links_keeping_the_filters(client, auth, db):
    same_time = utcnow() + timedelta(days=5)  # ties: only the id orders these
    ids = {
        str((await create_event(db, name=f"Python {i}", event_time=same_time)).id) for i in range(7)
    }
    await create_event(db, name="Go")
    url = "/api/events?name=python&page_size=3&colour=blue"
    seen: list[str] = []
    bodies = []
    while url:
        body = (await client.get(url, headers=auth)).json()
        bodies.append(body)
        seen += [event["id"] for event in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(ids)
    assert [body["count"] for body in bodies] == [7, 7, 7]
    assert [len(body["results"]) for body in bodies] == [3, 3, 1]
    assert bodies[0]["previous"] is None
    assert bodies[-1]["next"] is None
    last_previous = httpx.URL(bodies[-1]["previous"])
    assert (last_previous.scheme, last_previous.host) == ("http", "testserver")
    assert dict(last_previous.params) == {
        "name": "python",
        "page_size": "3",
        "colour": "blue",
        "page": "2",
    }


async def test_a_page_past_the_last_is_404(client, auth, db):
    await create_event(db)
    assert (await client.get("/api/events?page=2", headers=auth)).status_code == 404
    assert (await client.get("/api/events?page=1&name=nothing", headers=auth)).status_code == 200
    assert (await client.get("/api/events?page=2&name=nothing", headers=auth)).status_code == 404


async def test_a_trailing_slash_answers_directly(client, auth):
    response = await client.get("/api/events/", headers=auth)
    assert response.status_code == 200
