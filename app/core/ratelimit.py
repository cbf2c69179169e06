"""Rate limits on the `limits` library's async storage: in-process by default, shared by
every replica through Redis when REDIS_URL is set. (slowapi was passed over: it checks
synchronously and would block the event loop on Redis.)"""

import logging
import math
import time
from collections.abc import Iterable
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.core.errors import RateLimitedError

logger = logging.getLogger(__name__)


def storage_for(redis_url: str) -> Storage:
    # An `async+` scheme makes an async Storage; storage_from_string is typed for the others.
    if not redis_url:
        return cast(Storage, storage_from_string("async+memory://"))
    scheme, _, rest = redis_url.partition("://")
    return cast(Storage, storage_from_string(f"async+{scheme}://{rest}"))


class RateLimiter:
    """Counts hits per (scope, kind, identity) in a moving window."""

    def __init__(self, storage: Storage, limit: str) -> None:
        self._item: RateLimitItem = parse(limit)
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, scope: str, identities: Iterable[tuple[str, str]]) -> None:
        """Counts one hit for each identity; raises 429 with Retry-After at the first over."""
        for kind, identity in identities:
            if not await self._limiter.hit(self._item, scope, kind, identity):
                raise RateLimitedError(retry_after=await self._retry_after(scope, kind, identity))

    async def _retry_after(self, *identifiers: str) -> int:
        stats = await self._limiter.get_window_stats(self._item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))
