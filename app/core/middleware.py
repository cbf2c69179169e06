"""Pure ASGI middleware: request ids and trailing-slash-insensitive paths."""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("app.access")
REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str] = ContextVar("request_id", default="-")


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
