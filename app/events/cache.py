"""The catalogue's answers as HTTP knows to cache them: encoded pages kept in process, ETags, and
304s — all derived from the catalogue version (`LatestVersion`), so that nothing is served once
the data it shows has changed, and from when time alone changes a page (a deadline passing, a
hold lapsing), so that nothing is served past that either.

A page is kept under its full URL (the `next`/`previous` links it carries are built from it),
with the version token it was read under and the moment it goes stale. Its ETag says the same
three things, `"<token>.<stale-at>.<url digest>"`: a client's `If-None-Match` is answered 304
from the ETag alone while the token is current and the moment has not come, without a query and
on any replica (the token is the same everywhere).
"""

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.datastructures import URL
from starlette.responses import Response

from app.core.database import Database, utcnow
from app.events.version import LatestVersion, Version

CACHE_CONTROL = "private, no-cache"  # per user, and to be revalidated: the ETag makes it cheap
NEVER = "never"
# What one kept page costs besides its body (the key, the entry, the LRU's bookkeeping).
ENTRY_OVERHEAD_BYTES = 400


@dataclass(frozen=True, slots=True)
class KeptPage:
    token: str
    stale_at: float  # epoch seconds; math.inf when only a write can change the page
    etag: str
    body: bytes


def _digest(url: str) -> str:
    return hashlib.blake2s(url.encode(), digest_size=8).hexdigest()


def _etag(token: str, stale_at: float, url: str) -> str:
    moment = NEVER if stale_at == math.inf else str(int(stale_at))
    return f'"{token}.{moment}.{_digest(url)}"'


def _fresh_etag(if_none_match: str, version: Version, url: str, now: float) -> str | None:
    """The ETag, among those the client holds, that names the current version of this URL and
    a moment still to come, if any (`*` does not count: it is for writes)."""
    url_digest = _digest(url)
    for candidate in if_none_match.split(","):
        etag = candidate.strip()
        token, _, rest = etag.removeprefix("W/").strip('"').partition(".")
        moment, _, digest = rest.partition(".")
        if token != version.token or digest != url_digest:
            continue
        if moment == NEVER or (moment.isdigit() and now < int(moment)):
            return etag
    return None


Read = Callable[[], Awaitable[tuple[BaseModel, datetime | None]]]


class PageCache:
    """Encoded pages by URL, at most `max_bytes` of them, least recently used out first.

    Requests for a page that is not kept share one read of it: when a process starts, or
    after a write, each request in flight otherwise read and encoded the same page for itself.
    Over the first ten seconds of a process under 32 connections, the list's 99th percentile
    was 7 to 30 ms from run to run, and is 6 to 8 ms (bench/README.md, "The tail")."""

    def __init__(self, latest: LatestVersion, max_bytes: int) -> None:
        self._latest = latest
        self._pages: LRUCache[str, KeptPage] | None = None
        if max_bytes:
            self._pages = LRUCache(maxsize=max_bytes, getsizeof=_size)
        self._reading: dict[tuple[str, str], asyncio.Future[KeptPage]] = {}

    async def respond(
        self,
        database: Database,
        url: URL,
        if_none_match: str | None,
        read: Read,
        *,
        with_time_filter: bool = False,
    ) -> Response:
        """The page at `url`: 304 if the client's copy is current, the kept page if it is,
        else what `read` returns (a model, and when time alone changes it), kept for next time.
        `with_time_filter`: the query selects by registration status, so the next deadline
        anywhere in the catalogue may change which events it shows."""
        version = await self._latest.current(database)
        key, now = str(url), utcnow().timestamp()
        if if_none_match and (etag := _fresh_etag(if_none_match, version, key, now)):
            return _not_modified(etag)
        page = self._kept(key, version.token, now)
        if page is None:
            page = await self._read_once(key, version, read, with_time_filter)
            self._keep(key, page, now)
        return Response(
            page.body,
            media_type="application/json",
            headers={"ETag": page.etag, "Cache-Control": CACHE_CONTROL},
        )

    async def _read_once(
        self, key: str, version: Version, read: Read, with_time_filter: bool
    ) -> KeptPage:
        """The page read by the request that first asked for it under this version, or read
        here if that read failed (its error is its request's to answer). Shielded: a client
        that goes away does not cancel the read the others wait for."""
        flight = (key, version.token)
        reading = self._reading.get(flight)
        if reading is None:
            reading = asyncio.ensure_future(_read_page(key, version, read, with_time_filter))
            self._reading[flight] = reading
            reading.add_done_callback(lambda _: self._reading.pop(flight, None))
            return await asyncio.shield(reading)
        try:
            return await asyncio.shield(reading)
        except Exception:
            return await _read_page(key, version, read, with_time_filter)

    def _kept(self, key: str, token: str, now: float) -> KeptPage | None:
        page = self._pages.get(key) if self._pages is not None else None
        if page is None or page.token != token or now >= page.stale_at:
            return None
        return page

    def _keep(self, key: str, page: KeptPage, now: float) -> None:
        if self._pages is not None and now < page.stale_at:
            self._pages[key] = page


async def _read_page(key: str, version: Version, read: Read, with_time_filter: bool) -> KeptPage:
    model, changes_at = await read()
    if with_time_filter:
        changes_at = min(filter(None, (changes_at, version.next_deadline)), default=None)
    stale_at = math.inf if changes_at is None else changes_at.timestamp()
    return KeptPage(version.token, stale_at, _etag(version.token, stale_at, key), to_json(model))


def _size(page: KeptPage) -> int:
    return len(page.body) + ENTRY_OVERHEAD_BYTES


def _not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
