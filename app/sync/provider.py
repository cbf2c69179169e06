"""The events-provider's HTTP API (SPEC §6), behind one client: Bearer token, timeouts,
retries with backoff, a circuit breaker, and a paginator that follows `next` safely."""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Protocol

import httpx

from app.core.config import Settings
from app.core.resilience import CircuitBreaker, CircuitOpenError, backoff_delay, retry_after_seconds
from app.sync.local import GeneratedEvents

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ProviderError(Exception):
    """The provider could not be read; the message is safe to store and show."""


class EventsSource(Protocol):
    """Where a sync reads provider records: the provider's API, or local mode's generator."""

    @property
    def source(self) -> str:
        """Names the source on each run, so that an incremental run continues from the last
        successful run of the same source (after a switch, the first run is a full one)."""
        ...

    def pages(self, changed_since: date | None = None) -> AsyncIterator[list[Any]]: ...


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


class EventsProviderClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        token: str = "",
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._http = http
        self._url = httpx.URL(url)
        self._token = token
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._breaker = breaker or CircuitBreaker("events-provider")
        # The URL without credentials or query: what a run records as its source.
        self.source = str(self._url.copy_with(userinfo=b"", query=None, fragment=None))

    async def pages(self, changed_since: date | None = None) -> AsyncIterator[list[Any]]:
        """Each page's raw records, newest change first, following `next` until it is null.

        A `next` to another scheme, host or port than EVENTS_PROVIDER_URL, or one already
        followed, ends the run with ProviderError: the token must never leave for another
        host, and a loop must not spin forever.
        """
        params = {"changed_at": changed_since.isoformat()} if changed_since else {}
        url: httpx.URL | None = self._url.copy_merge_params(params)
        seen: set[str] = set()
        while url is not None:
            seen.add(str(url))
            body = await self._get_json(url)
            results = body.get("results")
            if not isinstance(results, list):
                raise ProviderError("the provider answered a page without a results list")
            yield results
            url = self._next_url(body.get("next"), seen)

    def _next_url(self, link: object, seen: set[str]) -> httpx.URL | None:
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise ProviderError("the provider's next link is not a string")
        url = self._url.join(link)
        if _origin(url) != _origin(self._url):
            raise ProviderError(
                f"refused a next link to another origin ({url.scheme}://{url.host}:{url.port})"
            )
        if str(url) in seen:
            raise ProviderError("refused a next link that repeats an earlier page")
        return url

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def _get_json(self, url: httpx.URL) -> dict[str, Any]:
        for attempt in range(self._max_attempts):
            try:
                self._breaker.before_call()
            except CircuitOpenError as error:
                raise ProviderError(str(error)) from None
            outcome, delay = await self._try_get(url)
            if isinstance(outcome, dict):
                self._breaker.record_success()
                return outcome
            self._breaker.record_failure()
            if attempt + 1 < self._max_attempts:
                delay = delay if delay is not None else self._backoff(attempt)
                logger.warning("sync: %s; retry %d in %.1fs", outcome, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise ProviderError(f"{outcome} after {self._max_attempts} attempts")

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap)

    async def _try_get(self, url: httpx.URL) -> tuple[dict[str, Any] | str, float | None]:
        """The page's JSON, or a description of a retryable failure and how long to wait."""
        try:
            response = await self._http.get(url, headers=self._headers())
        except httpx.TimeoutException:
            return "the provider timed out", None
        except httpx.TransportError as error:
            return f"the provider is unreachable ({type(error).__name__})", None
        if response.status_code in RETRYABLE_STATUSES:
            wait = retry_after_seconds(response.headers.get("Retry-After"), cap=self._backoff_cap)
            return f"the provider answered {response.status_code}", wait
        if response.status_code != 200:
            raise ProviderError(f"the provider answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return "the provider answered with a body that is not JSON", None
        if not isinstance(body, dict):
            raise ProviderError("the provider answered JSON that is not a page object")
        return body, None


def create_provider_http_client() -> httpx.AsyncClient:
    # Redirects are not followed: a redirect could carry the token to another host.
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False)


def create_provider_client(http: httpx.AsyncClient, settings: Settings) -> EventsSource:
    """The provider at EVENTS_PROVIDER_URL; without one (development only), local mode."""
    if settings.events_provider_url is None:
        return GeneratedEvents()
    return EventsProviderClient(
        http, str(settings.events_provider_url), settings.events_provider_token.get_secret_value()
    )
