"""Behind a proxy (SPEC §3): `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`
are believed only from TRUSTED_PROXIES, whichever server runs the app.

The first two are read by uvicorn's own ProxyHeadersMiddleware, run inside the app with
TRUSTED_PROXIES as its trusted hosts; it does not read `X-Forwarded-Host`, which is added here.
Everything after it — the `next`/`previous` links, the admin's links and redirects, the rate
limiter's client address — reads the request's scheme, host and client as rewritten.
"""

import ipaddress
import re
import sys

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A host name or address, with an optional port: anything else in the header is ignored.
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def parse_trusted_proxies(value: str) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(part.strip()) for part in value.split(",") if part.strip())


class TrustedProxyHeaders:
    """Takes the client's address, scheme and host from the `X-Forwarded-*` headers when,
    and only when, the peer is one of `trusted` proxies."""

    def __init__(self, app: ASGIApp, trusted: tuple[IpNetwork, ...]) -> None:
        self.app = ProxyHeadersMiddleware(app, trusted_hosts=[str(net) for net in trusted])
        self.trusted = trusted

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
    """Under plain `uvicorn app.main:app`, uvicorn wraps the app in its ProxyHeadersMiddleware
    trusting FORWARDED_ALLOW_IPS (127.0.0.1 and ::1 unless set) — whatever TRUSTED_PROXIES
    says, and before any setting of ours is read, so a local client could claim to be anyone
    on any scheme. The Config that is importing this module decides whether to wrap only once
    the import is done: turning its `proxy_headers` off leaves TrustedProxyHeaders alone in
    charge. This reaches into uvicorn (the importing Config is found on the call stack)
    because nothing public reaches that decision; tests/core/test_proxy_headers.py runs a
    real uvicorn to catch a release that moves it."""
    frame = sys._getframe(1)
    while frame is not None:
        config = frame.f_locals.get("self")
        if isinstance(config, uvicorn.Config) and not config.loaded:
            config.proxy_headers = False
            return
        frame = frame.f_back  # type: ignore[assignment]
