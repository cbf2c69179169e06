"""Pure ASGI middleware: request ids, trailing-slash-insensitive paths, and the
`X-Forwarded-*` headers of trusted proxies."""

import ipaddress
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING, cast

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

access_logger = logging.getLogger("app.access")
REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A host name or address, with an optional port: anything else in X-Forwarded-Host is ignored.
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the caller or makes one, returns it, and writes
    one access-log line per request under it (uvicorn's own access log is turned off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._incoming(scope) or uuid.uuid4().hex
        token = _request_id.set(request_id)
        # Also on the request state: Starlette answers unhandled errors outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            _request_id.reset(token)

    @staticmethod
    def _incoming(scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER.encode():
                candidate = value.decode("latin-1")
                return candidate if _SAFE_REQUEST_ID.match(candidate) else None
        return None


class TrailingSlashMiddleware:
    """Serves `/x/` as `/x` directly, on every path but `/` and those under the `keep`
    prefixes (a mounted site with routes of its own, such as the admin's `/admin/`): the old
    service's clients call both, and a redirect would turn a POST into a GET in some of them."""

    def __init__(self, app: ASGIApp, keep: tuple[str, ...] = ()) -> None:
        self.app = app
        self.keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.endswith("/")
            and path != "/"
            and not path.startswith(self.keep)
        ):
            scope = dict(scope)
            scope["path"] = path.rstrip("/") or "/"
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/")
        await self.app(scope, receive, send)


class TrustedProxyHeaders:
    """Behind a proxy (SPEC §3): takes the client's address, scheme and host from the
    `X-Forwarded-For`, `-Proto` and `-Host` headers when, and only when, the peer is one of the
    `trusted` proxies (TRUSTED_PROXIES: comma-separated addresses or networks).

    The first two are read by uvicorn's own ProxyHeadersMiddleware, run here with those trusted
    hosts; it does not read `X-Forwarded-Host`, which is added here. Everything after it — the
    `next`/`previous` links, the admin's links and redirects, the rate limiter's client address
    — reads the request's scheme, host and client as rewritten.
    """

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.trusted = tuple(
            ipaddress.ip_network(part.strip()) for part in trusted.split(",") if part.strip()
        )
        # One ASGI protocol, typed twice: uvicorn's scopes and messages are TypedDicts,
        # Starlette's plain mappings.
        self.app = cast(
            ASGIApp,
            ProxyHeadersMiddleware(
                cast("ASGI3Application", app),
                trusted_hosts=[str(network) for network in self.trusted],
            ),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._from_a_trusted_proxy(scope):
            scope = _with_forwarded_host(scope)
        await self.app(scope, receive, send)

    def _from_a_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not self.trusted or not client:
            return False
        try:
            peer = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)


def _with_forwarded_host(scope: Scope) -> Scope:
    """The scope with `Host` replaced by the nearest proxy's `X-Forwarded-Host` (the last
    value: each proxy appends to the list), when there is a well-formed one."""
    forwarded = [value for name, value in scope["headers"] if name == b"x-forwarded-host"]
    if not forwarded:
        return scope
    host = forwarded[-1].decode("latin-1").split(",")[-1].strip()
    if not _HOST.match(host):
        return scope
    headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
    return {**scope, "headers": [*headers, (b"host", host.encode("latin-1"))]}


def keep_uvicorn_from_trusting_its_own_default() -> None:
    """Called while `app.main` is imported. Under plain `uvicorn app.main:app`, uvicorn wraps
    the app in its own ProxyHeadersMiddleware trusting FORWARDED_ALLOW_IPS (127.0.0.1 and ::1
    unless set), whatever TRUSTED_PROXIES says and before any setting of ours is read, so that
    a local client could claim to be anyone on any scheme. The uvicorn Config importing the
    app decides whether to wrap it only once the import is done: turning its `proxy_headers`
    off leaves TrustedProxyHeaders alone in charge. This reaches into uvicorn (the importing
    Config is found on the call stack) because nothing public reaches that decision;
    tests/core/test_proxy_headers.py runs a real uvicorn to catch a release that moves it."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        config = frame.f_locals.get("self")
        if isinstance(config, uvicorn.Config) and not config.loaded:
            config.proxy_headers = False
            return
        frame = frame.f_back
