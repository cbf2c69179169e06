"""The notification service's HTTP contract (SPEC §5), as the relay speaks it: the client and its
transport, one send and what it came to. The relay's loop (claim, send, record) is in
relay.py."""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.config import Settings
from app.core.resilience import retry_after_seconds

notices_logger = logging.getLogger("app.notices")

DELIVERED = frozenset({201, 409})


def create_notifications_http_client(settings: Settings) -> httpx.AsyncClient:
    headers = {}
    token = settings.notifications_token.get_secret_value()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    limits = httpx.Limits(max_connections=settings.outbox_concurrency)
    return httpx.AsyncClient(
        headers=headers,
        timeout=settings.notifications_timeout_seconds,
        limits=limits,
        transport=AiohttpConnections(limits),
    )


class AiohttpConnections(httpx.AsyncBaseTransport):
    """httpx's API over aiohttp's connections (httpx-aiohttp): with httpcore's pool a request
    cost 850 µs of CPU here (it checks every idle connection at each request), with aiohttp's
    250 µs, and the relay is bound by that CPU (bench/README.md). aiohttp is imported at the
    first request: it is 6 MiB of memory, which a process that sends nothing (sync-events)
    does without."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._transport: httpx.AsyncBaseTransport | None = None
        self._unmapped: type[Exception] | tuple[()] = ()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            import aiohttp
            from httpx_aiohttp import AiohttpTransport

            self._transport = AiohttpTransport(limits=self._limits)
            self._unmapped = aiohttp.ClientError
        try:
            return await self._transport.handle_async_request(request)
        except self._unmapped as error:
            # What httpx-aiohttp leaves as aiohttp's (a malformed answer, say) is an httpx
            # error, as with httpx's own transport: a failed send, not a crashed relay.
            raise httpx.RemoteProtocolError(f"{type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one send came to: delivered, or an error and when to try again."""

    delivered: bool
    error: str | None = None
    retry_after: float | None = None


def _write_to_the_log(notice: dict[str, str]) -> SendResult:
    """Local mode (development with no NOTIFICATIONS_URL), like Django's console e-mail
    backend: the notice, code included, goes to the log instead of the notification service,
    and counts as delivered."""
    notices_logger.info(
        "notice to %s: %s",
        notice["email"],
        notice["message"],
        extra={"notice_id": notice["id"], "email": notice["email"], "notice": notice["message"]},
    )
    return SendResult(True)


async def send_notice(
    http: httpx.AsyncClient, settings: Settings, message_id: uuid.UUID, payload: dict[str, Any]
) -> SendResult:
    """POSTs the notice to NOTIFICATIONS_URL (or, with none, writes it to the log)."""
    body = {
        "id": str(message_id),
        "owner_id": settings.notifications_owner_id,
        "email": payload["email"],
        "message": payload["message"],
    }
    if settings.notifications_url is None:
        return _write_to_the_log(body)
    try:
        response = await http.post(str(settings.notifications_url), json=body)
    except httpx.HTTPError as error:
        return SendResult(False, f"{type(error).__name__}: {error}"[:500])
    if response.status_code in DELIVERED:
        return SendResult(True)
    return SendResult(
        False,
        f"HTTP {response.status_code}",
        retry_after_seconds(response.headers.get("Retry-After")),
    )
