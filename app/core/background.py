"""Lifespan-managed background loops that survive their own failures and stop on time."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class BackgroundLoops:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def every(
        self, name: str, interval_seconds: float, job: Job, *, first_delay: float = 0.0
    ) -> None:
        """Runs `job` now (after `first_delay`) and then every `interval_seconds`."""
        self._track(self._repeat(name, interval_seconds, job, first_delay), name)

    def run(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Runs a long-lived loop that watches the `stopping` event itself."""
        self._track(self._guard(name, loop), name)

    def spawn(self, name: str, work: Awaitable[object]) -> None:
        """Runs one piece of work (a triggered sync, say) that shutdown waits for or cancels."""
        self._track(self._once(name, work), name)

    def _track(self, coroutine: Coroutine[object, object, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, timeout_seconds: float) -> None:
        self.stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=timeout_seconds)
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

    async def _repeat(self, name: str, interval: float, job: Job, first_delay: float) -> None:
        if first_delay and await self.sleep(first_delay):
            return
        while not self.stopping.is_set():
            try:
                await job()
            except Exception:
                logger.exception("background job %s failed; retrying in %ss", name, interval)
            if await self.sleep(interval):
                return

    async def _once(self, name: str, work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:
            logger.exception("background task %s failed", name)

    async def _guard(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            try:
                await loop(self.stopping)
                return
            except Exception:
                logger.exception("background loop %s crashed; restarting in %ss", name, pause)
                if await self.sleep(pause):
                    return
                pause = min(pause * 2, 30.0)
