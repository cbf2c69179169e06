"""What this process knows of the catalogue's version (`CatalogueVersion`, one row whose token
every write to the catalogue replaces in its own transaction).

A write made here is known here at once: once its unit of work has committed, the next request
reads the version again. A write made by another replica is known within
CATALOGUE_VERSION_REFRESH_SECONDS (half a second), and at worst twice that: the token is read
again, at most that often, when a request asks for it. One tiny query per process every half
second is the whole cost, and unlike a notification channel it cannot be lost with a dropped
connection.

One read at a time: requests that find the version due share the read in flight. Under load,
a version older than the period (but not twice) is served while one read replaces it in the
background — without that, every request in flight waited for its own read each half second,
and the 99th percentile of the whole list was three times its median.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache

from app.core.database import Database, utcnow
from app.events.queries import EventQueries


@dataclass(frozen=True, slots=True)
class Version:
    token: str
    # When the next open event's registration deadline passes: then `status` filters match
    # other events, though nothing was written.
    next_deadline: datetime | None


class LatestVersion:
    def __init__(self, refresh_seconds: float) -> None:
        self._refresh_seconds = refresh_seconds
        self._known: Version | None = None
        self._read_at = 0.0
        self._local_writes = 0
        self._reading: asyncio.Task[Version] | None = None
        self._reading_after_writes = 0

    async def current(self, database: Database) -> Version:
        """The latest version this process knows, read again (from `database`) when it is older
        than the refresh period or a write of this process has committed since."""
        age = time.monotonic() - self._read_at
        if self._known is not None and age < self._refresh_seconds:
            return self._known
        reading = self._read_once(database)
        if self._known is not None and age < 2 * self._refresh_seconds:
            return self._known
        return await asyncio.shield(reading)

    @property
    def known_token(self) -> str | None:
        """The latest token this process has read, without reading it (None before the first)."""
        return None if self._known is None else self._known.token

    def read_soon(self, database: Database) -> None:
        """Reads the version in the background (or lets the read in flight do)."""
        self._read_once(database)

    def changed(self) -> None:
        """A write of this process has committed: the next request reads the version again
        (the new token, and the next deadline, which the write may have moved)."""
        self._local_writes += 1
        self._read_at = 0.0

    def _read_once(self, database: Database) -> asyncio.Task[Version]:
        """The read in flight, or a new one if none is, or if it began before a local write."""
        if self._reading is None or self._reading_after_writes != self._local_writes:
            self._reading_after_writes = self._local_writes
            self._reading = asyncio.create_task(self._read(database))
            self._reading.add_done_callback(self._read_done)
        return self._reading

    async def _read(self, database: Database) -> Version:
        writes_before = self._local_writes
        async with database.reading() as connection:
            read = Version(*await EventQueries(connection).version(utcnow()))
        if self._local_writes == writes_before:  # else a write committed meanwhile: read again
            self._known, self._read_at = read, time.monotonic()
        return read

    def _read_done(self, reading: asyncio.Task[Version]) -> None:
        if self._reading is reading:
            self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved: a failed background read is retried by the next


@dataclass(frozen=True, slots=True)
class _SeenFull:
    token: str  # the version known before the event was read full
    until: datetime | None  # when a hold lapses or the deadline passes; None: only a write


class FullEvents:
    """The events this process has read with no seat for a direct registration, each under the
    version it knew before the read. While that version is still the latest it knows, nothing
    has been written since — no cancellation, no lapsed hold settled, no change upstream —
    and until a hold may lapse or the deadline pass, such an event is still full: a
    registration for it is refused without a query (SPEC §8, the 409s once an event is full).

    A version known before the read can only be older than what the read saw, which makes the
    record stale sooner, never wrong. A seat freed by another replica is seen as late as any
    of its writes (LatestVersion: within one to two refresh periods), as the catalogue's pages
    see it; one freed here, at once."""

    def __init__(self, latest: LatestVersion, database: Database, max_events: int) -> None:
        self._latest = latest
        self._database = database
        self._seen: LRUCache[uuid.UUID, _SeenFull] = LRUCache(max_events)

    def version_before_reading(self) -> str | None:
        """What to record a read under, taken before it (no query)."""
        return self._latest.known_token

    def saw_full(self, event_id: uuid.UUID, token: str | None, until: datetime | None) -> None:
        if token is None:  # no version known yet: one is read for the next refusal
            self._latest.read_soon(self._database)
        else:
            self._seen[event_id] = _SeenFull(token, until)

    async def is_full(self, event_id: uuid.UUID, now: datetime) -> bool:
        seen = self._seen.get(event_id)
        if seen is None:
            return False
        if (seen.until is None or now < seen.until) and seen.token == (
            await self._latest.current(self._database)
        ).token:
            return True
        if self._seen.get(event_id) is seen:  # not one recorded meanwhile
            del self._seen[event_id]
        return False
