"""Realistic provider events (SPEC §6) for tests, benchmarks and the local demo: Russian and
English names, every status, null and partial places, assorted seat patterns."""

import random
import uuid
from collections.abc import Iterator
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
SEAT_PATTERNS = ["A1-50,B1-100,C1-150", "A1-30,B1-50", "A1-500", "A1-20", "", None]


def _venue(rng: random.Random, index: int) -> dict[str, Any]:
    city, address = CITIES[index % len(CITIES)]
    stamp = datetime(2025, 1, 1, tzinfo=UTC).isoformat()
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": f"{city} Арена {index}",
        "city": city,
        "address": address,
        "seats_pattern": rng.choice(SEAT_PATTERNS),
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
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": _name(rng),
        "place": _place(rng, venues),
        "event_time": event_time.isoformat(),
        "registration_deadline": (event_time - timedelta(days=1)).isoformat(),
        "status": rng.choice(STATUSES),
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
