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
from dataclasses import dataclass
from datetime import datetime

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
