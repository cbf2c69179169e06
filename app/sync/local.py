"""Local mode's events source (SPEC §3): in development, with no EVENTS_PROVIDER_URL, the sync
reads generated events that are open for registration, so that a first run with no network
has a catalogue to browse and register for."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from app.sync.generator import generate_open_events

LOCAL_SOURCE = "local:generated"
LOCAL_EVENTS = 60
PAGE_SIZE = 10


class GeneratedEvents:
    """Serves the same events all day, dated from the start of the day (UTC): a restart finds
    them unchanged, and the next day's first sync moves them a day on, so they stay ahead."""

    source = LOCAL_SOURCE

    def __init__(self, count: int = LOCAL_EVENTS) -> None:
        self._count = count

    async def pages(self, changed_since: date | None = None) -> AsyncIterator[list[Any]]:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if changed_since is not None and changed_since > today.date():
            return
        events = generate_open_events(self._count, now=today)
        for start in range(0, len(events), PAGE_SIZE):
            yield events[start : start + PAGE_SIZE]
