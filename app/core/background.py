"""Lifespan-managed background loops that survive their own failures and stop on time."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine

from app.core.errors import DatabaseUnavailableError, TransactionConflictError

logger = logging.getLogger(__name__)

LoopBody = Callable[[], Awaitable[object]]

FIRST_RESTART_PAUSE = 1.0
LONGEST_RESTART_PAUSE = 30.0


class BackgroundLoops:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._loops: set[asyncio.Task[None]] = set()
        self._jobs: set[asyncio.Task[None]] = set()

    def every(
        self, name: str, interval_seconds: float, job: LoopBody, *, first_delay: float = 0.0
    ) -> None:
        """Runs `job` now (after `first_delay`) and then every `interval_seconds`."""
        self._track(self._jobs, self._repeat(name, interval_seconds, job, first_delay), name)

    def run(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Runs a long-lived loop that watches the `stopping` event itself."""
        self._track(self._loops, self._guard(name, loop), name)

    def spawn(self, name: str, work: Coroutine[object, object, object]) -> None:
        """Runs one piece of work (a triggered sync, say) that shutdown cancels. Cancelled
        before it started, `work` is closed unrun (else Python warns it was never awaited)."""
        task = self._track(self._jobs, self._once(name, work), name)
        task.add_done_callback(lambda _: work.close())

    def _track(
        self, tasks: set[asyncio.Task[None]], coroutine: Coroutine[object, object, None], name: str
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine, name=name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def stop(self, timeout_seconds: float) -> None:
        """Cancels the jobs at once (a unit of work cut short rolls back; a sync run records
        that it was interrupted and hands its lease back) and gives the loops, which watch
        `stopping`, `timeout_seconds` to finish what they have in flight (the relay's sends)
        and hand back the rest."""
        self.stopping.set()
        for job in self._jobs:
            job.cancel()
        tasks = self._loops | self._jobs
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_seconds)
        for task in pending:
            logger.warning("background task %s did not stop in time; cancelling", task.get_name())
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def sleep(self, seconds: float) -> bool:
        """Waits, or returns True early once stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _repeat(self, name: str, interval: float, job: LoopBody, first_delay: float) -> None:
        if first_delay and await self.sleep(first_delay):
            return
        while not self.stopping.is_set():
            try:
                await job()
            except Exception as error:
                _log_failure(error, "background job %s failed; retrying in %ss", name, interval)
            if await self.sleep(interval):
                return

    async def _once(self, name: str, work: Coroutine[object, object, object]) -> None:
        try:
            await work
        except Exception as error:
            _log_failure(error, "background task %s failed", name)

    async def _guard(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Restarts a crashed loop after a pause that doubles while it keeps crashing and
        starts again from a second once it has run for longer than its last pause."""
        pause = FIRST_RESTART_PAUSE
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                await loop(self.stopping)
                return
            except Exception as error:
                if time.monotonic() - started > pause:
                    pause = FIRST_RESTART_PAUSE
                _log_failure(error, "background loop %s crashed; restarting in %ss", name, pause)
                if await self.sleep(pause):
                    return
                pause = min(pause * 2, LONGEST_RESTART_PAUSE)


def _log_failure(error: Exception, message: str, *args: object) -> None:
    """A database that cannot be reached, or a transaction it rolled back for a concurrent
    one, is a warning (the next try succeeds by itself); anything else is an error with its
    traceback."""
    if isinstance(error, DatabaseUnavailableError):
        logger.warning(message + ": the database is unavailable", *args)
    elif isinstance(error, TransactionConflictError):
        logger.warning(message + ": a concurrent transaction won", *args)
    else:
        logger.error(message, *args, exc_info=error)
