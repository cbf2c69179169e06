"""Wake-ups across processes: PostgreSQL LISTEN/NOTIFY on one connection per process.

The database sends the notifications: a trigger, when a write means every process should look
at something at once (the outbox's, migration 0009), so that it goes out with the commit, never
after a rollback, and no write can forget it. Each process that subscribed to the channel has
its callbacks called within milliseconds. A callback takes no argument and must not block (it
sets an `asyncio.Event`, say): a notification only says "look again", never what changed.
Nothing is stored either: one sent while a process was not listening is lost, so a subscriber
keeps polling as its safety net, and the listener calls every callback each time it
(re)connects.

    container.listener.subscribe("outbox", relay_wake.set)

On SQLite (one process) there is nothing to listen to: in-process wake-ups and polling do the work.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.background import BackgroundLoops
from app.core.database import CONNECT_TIMEOUT_SECONDS, process_name

logger = logging.getLogger(__name__)

OnNotify = Callable[[], object]

# How often an idle listening connection is checked, so that one the network dropped without
# a word is noticed (a server that restarts closes it, which is noticed at once).
CHECK_SECONDS = 30.0
RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


class Listener:
    """LISTENs on the channels subscribed, on one connection of its own (not the pool's),
    from the first subscription until the process's background work stops; reconnects with a
    growing pause when the connection is lost (a database restart, a network cut).
    `connected` is set while it listens."""

    def __init__(self, engine: AsyncEngine, background: BackgroundLoops) -> None:
        self._engine = engine
        self._background = background
        self._subscribers: defaultdict[str, list[OnNotify]] = defaultdict(list)
        self._changed = asyncio.Event()
        self._started = False
        self.connected = asyncio.Event()

    def subscribe(self, channel: str, on_notify: OnNotify) -> None:
        """Calls `on_notify` at each notification on `channel` from any process, and each time
        the listener has (re)connected. The first subscription starts the listener (on
        PostgreSQL; on SQLite nothing ever calls it)."""
        self._subscribers[channel].append(on_notify)
        self._changed.set()
        if not self._started and self._engine.dialect.name == "postgresql":
            self._started = True
            self._background.run("database-listener", self._listen)

    async def _listen(self, stopping: asyncio.Event) -> None:
        failures = 0
        while not stopping.is_set():
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                logger.warning("listener: cannot connect (%s); trying again in %ss", error, pause)
                await _wait_for(stopping, pause)
                continue
            failures = 0
            try:
                await self._serve(connection, stopping)
            finally:
                self.connected.clear()
                with suppress(Exception):
                    await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_SECONDS)

    async def _connect(self) -> asyncpg.Connection:
        _args, options = self._engine.dialect.create_connect_args(self._engine.url)
        options.pop("prepared_statement_cache_size", None)  # SQLAlchemy's, not asyncpg's
        options["server_settings"] = {"application_name": f"listener:{process_name()}"[:63]}
        return await asyncpg.connect(**options, timeout=CONNECT_TIMEOUT_SECONDS)

    async def _serve(self, connection: asyncpg.Connection, stopping: asyncio.Event) -> None:
        """Listens until the connection is lost or the work stops."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        listening: set[str] = set()
        while not (stopping.is_set() or lost.is_set()):
            self._changed.clear()
            try:
                for channel in self._subscribers.keys() - listening:
                    await connection.add_listener(channel, self._deliver)
                    listening.add(channel)
                    self._wake(channel)  # whatever was sent while nobody listened
                self.connected.set()
                if not await _wait_for(stopping, CHECK_SECONDS, lost, self._changed):
                    await connection.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                logger.warning("listener: lost the connection (%s); reconnecting", error)
                return

    def _deliver(self, _connection: object, _pid: int, channel: str, _payload: object) -> None:
        self._wake(channel)

    def _wake(self, channel: str) -> None:
        for on_notify in self._subscribers[channel]:
            on_notify()


async def _wait_for(stopping: asyncio.Event, seconds: float, *events: asyncio.Event) -> bool:
    """Waits `seconds` or until one of the events (or `stopping`) is set; whether one was."""
    waiters = [asyncio.ensure_future(event.wait()) for event in (stopping, *events)]
    done, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
    for waiter in pending:
        waiter.cancel()
    return bool(done)
