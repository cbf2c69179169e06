"""Realistic provider records (SPEC §6): Russian and English names, every status, null and
partial places, assorted seat patterns, for tests and benchmarks; and, for local mode, events
that are all open for registration."""

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

TOPICS_RU = ["Python", "SEO", "Data Science", "DevOps", "дизайну", "маркетингу", "Go", "AI"]
FORMATS_RU = ["Конференция по", "Митап по", "Саммит по", "Воркшоп по", "Хакатон по"]
AUDIENCES_RU = ["для фрилансеров", "для начинающих", "для профессионалов", "", ""]
FORMATS_EN = ["Conference on", "Meetup:", "Summit on", "Workshop:", "Hackathon on"]
TOPICS_EN = ["Python", "Rust", "Cloud", "Security", "Machine Learning", "Product Design"]
CITIES = [
    ("Москва", "Тверская ул., 7"),
    ("Санкт-Петербург", "Невский пр., 28"),
    ("Екатеринбург", "Репина ул., 5"),
    ("Казань", "Баумана ул., 19"),
    ("Новосибирск", "Красный пр., 1"),
]
STATUSES = ["new", "published", "published", "registration_closed", "finished", "cancelled"]
OPEN_STATUSES = ["new", "published", "published"]
EVENT_HOURS_UTC = [7, 9, 12, 15, 16]  # 10:00 to 19:00 in Moscow
SEATED_PATTERNS: list[str | None] = ["A1-50,B1-100,C1-150", "A1-30,B1-50", "A1-500", "A1-20"]
SEAT_PATTERNS = [*SEATED_PATTERNS, "", None]


def _venue(
    rng: random.Random, index: int, patterns: list[str | None] = SEAT_PATTERNS
) -> dict[str, Any]:
    city, address = CITIES[index % len(CITIES)]
    stamp = datetime(2025, 1, 1, tzinfo=UTC).isoformat()
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": f"{city} Арена {index}",
        "city": city,
        "address": address,
        "seats_pattern": rng.choice(patterns),
        "changed_at": stamp,
        "created_at": stamp,
    }


def _name(rng: random.Random) -> str:
    if rng.random() < 0.7:
        parts = [rng.choice(FORMATS_RU), rng.choice(TOPICS_RU), rng.choice(AUDIENCES_RU)]
    else:
        parts = [rng.choice(FORMATS_EN), rng.choice(TOPICS_EN), str(rng.randint(2025, 2027))]
    return " ".join(part for part in parts if part)


def _place(rng: random.Random, venues: list[dict[str, Any]]) -> dict[str, Any] | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    venue = rng.choice(venues)
    if roll < 0.10:
        return {"id": venue["id"], "name": venue["name"]}
    return dict(venue)


def generate_event(
    rng: random.Random, venues: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    event_time = now + timedelta(days=rng.uniform(-30, 120))
    changed_at = now - timedelta(days=rng.uniform(0, 60), seconds=rng.randint(0, 86400))
    created_at = changed_at - timedelta(days=rng.uniform(0, 30))
    return _record(
        rng,
        place=lambda: _place(rng, venues),
        event_time=event_time,
        status=STATUSES,
        changed_at=changed_at,
        created_at=created_at,
    )


def _record(
    rng: random.Random,
    *,
    place: Callable[[], dict[str, Any] | None],
    event_time: datetime,
    status: list[str],
    changed_at: datetime,
    created_at: datetime,
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": _name(rng),
        "place": place(),
        "event_time": event_time.isoformat(),
        "registration_deadline": (event_time - timedelta(days=1)).isoformat(),
        "status": rng.choice(status),
        "number_of_visitors": rng.randint(0, 300),
        "changed_at": changed_at.isoformat(),
        "created_at": created_at.isoformat(),
        "status_changed_at": changed_at.isoformat(),
    }


def generate_events(
    count: int, *, seed: int = 0, venues: int = 50, now: datetime | None = None
) -> list[dict[str, Any]]:
    """`count` events at `venues` venues, the same for the same seed."""
    return list(iter_events(count, seed=seed, venues=venues, now=now))


def iter_events(
    count: int, *, seed: int = 0, venues: int = 50, now: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The events of `generate_events`, made one at a time (a large catalogue in flat memory)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    now = now or datetime.now(UTC)
    places = [_venue(rng, index) for index in range(venues)]
    for _ in range(count):
        yield generate_event(rng, places, now)


def generate_open_events(
    count: int, *, seed: int = 0, venues: int = 12, now: datetime
) -> list[dict[str, Any]]:
    """`count` events open for registration at `now`: new or published, two days to four
    months ahead on the hour (the deadline a day before), each at a venue with seats, all
    changed at `now`. The same for the same seed and `now`."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    places = [_venue(rng, index, SEATED_PATTERNS) for index in range(venues)]
    return [
        _record(
            rng,
            place=lambda: dict(rng.choice(places)),
            event_time=now.replace(minute=0, second=0, microsecond=0)
            + timedelta(days=rng.randint(2, 120), hours=rng.choice(EVENT_HOURS_UTC)),
            status=OPEN_STATUSES,
            changed_at=now,
            created_at=now - timedelta(days=rng.uniform(0, 30)),
        )
        for _ in range(count)
    ]
