"""The accounts erased recently, as this process knows them: their access tokens are refused
on every route although most routes check a token without a database call (SPEC §4.7).

An erased account gets no new tokens (its refresh tokens are revoked, its password is one
nobody knows), so only the access tokens issued before its erasure are to be refused, and only
until they expire: the set holds the accounts erased within the last access-token lifetime (and
a minute more, for the replicas' clocks), a handful of ids, checked in a dict lookup.

It is loaded when the process starts, grows at once when an erasure of this process commits,
and on PostgreSQL hears every other process's erasure through LISTEN/NOTIFY (a trigger on
`users` notifies ERASURE_CHANNEL when `erased_at` is set: migration 0011), reading the ids
again; and again each time the listener reconnects, since what was sent meanwhile is lost. It
only ever adds: a read that began before a commit and ends after it cannot take away what the
commit added.
"""

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from app.auth.repository import UserRepository
from app.core.background import BackgroundLoops
from app.core.database import Database, utcnow
from app.core.errors import DatabaseUnavailableError

logger = logging.getLogger(__name__)

# The channel the database notifies when an account is erased (migration 0011).
ERASURE_CHANNEL = "users_erased"
CLOCK_MARGIN = timedelta(minutes=1)


class ErasedUsers:
    def __init__(
        self, database: Database, background: BackgroundLoops, access_token_ttl_seconds: float
    ) -> None:
        self._database = database
        self._background = background
        self._kept_for = timedelta(seconds=access_token_ttl_seconds) + CLOCK_MARGIN
        self._erased: dict[uuid.UUID, datetime] = {}
        self._reading = False
        self._read_again = False

    def __contains__(self, user_id: uuid.UUID) -> bool:
        return user_id in self._erased

    def add(self, user_id: uuid.UUID, erased_at: datetime) -> None:
        """An erasure this process committed."""
        self._erased[user_id] = erased_at
        self._forget_the_old(utcnow())

    async def load_early(self) -> None:
        """Reads them at start-up; where the database cannot say yet (down, or not migrated),
        the listener reads them once it has connected (on PostgreSQL: on SQLite the database
        is a file that `serve` migrates first)."""
        try:
            await self.load()
        except (DBAPIError, DatabaseUnavailableError):
            logger.warning(
                "erased accounts not read at start-up (is the database up and migrated?)"
            )

    async def load(self) -> None:
        """Reads the accounts erased within the tokens' lifetime (at start, and when told)."""
        now = utcnow()
        async with self._database.transaction() as work:
            erased = await UserRepository(work.session).erased_since(now - self._kept_for)
        self._erased.update(erased)
        self._forget_the_old(now)

    def read_soon(self) -> None:
        """Reads them again in the background (the listener's callback: it must not block). A
        call while a read is in flight makes one more read after it, which sees what the call
        was told of. A read that fails is logged; the listener calls again once it has
        reconnected to a database that was away, and until then the set stands as it was."""
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        self._background.spawn("erased-accounts", self._read())

    async def _read(self) -> None:
        try:
            while True:
                self._read_again = False
                await self.load()
                if not self._read_again:
                    return
        finally:
            self._reading = False

    def _forget_the_old(self, now: datetime) -> None:
        oldest = now - self._kept_for
        for user_id in [user for user, at in self._erased.items() if at < oldest]:
            del self._erased[user_id]
