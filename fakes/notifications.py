"""A fake notification service speaking SPEC §5: Bearer check, 201 the first time a
notification `id` is seen and 409 after, every request recorded. It can fail on demand, from
Python (`FakeNotifications.behaviour`) or over HTTP (`POST /_fake/behaviour`): the next N
requests answer `fail_status` (with `Retry-After` when set), are slow, or drop the connection.
It also records ids that arrive while a request with the same id is still in flight, so that
tests can prove no message is ever sent from two places at once.

Run it beside the service:  python -m fakes.notifications --port 8002 [--token T]
and set NOTIFICATIONS_URL=http://127.0.0.1:8002/api/notifications (NOTIFICATIONS_TOKEN=T).
"""

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fakes.serving import argument_parser, serve

NOTIFICATIONS_PATH = "/api/notifications"


@dataclass
class Behaviour:
    """What the fake does wrong, if anything, for the next `fail_next` requests."""

    fail_next: int = 0
    fail_status: int = 500
    fail_mode: str = "status"  # "status": answer fail_status; "drop": drop the connection;
    # "hang": answer fail_status only after hang_seconds (a timeout for the client)
    hang_seconds: float = 2.0
    retry_after: str | None = None  # sent with every failure when set
    delay_seconds: float = 0.0  # before every answer


@dataclass
class Received:
    id: str | None
    body: dict[str, Any]
    status: int
    at: float
    traceparent: str | None = None  # the W3C trace context the caller sent, if any


class DroppedConnection(Exception):
    """Raised mid-response, so that the server closes the connection without a complete
    answer."""


@dataclass
class FakeNotifications:
    token: str = ""
    url: str = ""  # where it is served, once it is
    behaviour: Behaviour = field(default_factory=Behaviour)
    received: list[Received] = field(default_factory=list)
    overlapping: list[str] = field(default_factory=list)  # ids that arrived while in flight

    def __post_init__(self) -> None:
        self._in_flight: Counter[str] = Counter()
        self._created: set[str] = set()
        self.app = Starlette(
            routes=[
                Route(NOTIFICATIONS_PATH, self._notify, methods=["POST"]),
                Route("/_fake/behaviour", self._set_behaviour, methods=["POST"]),
                Route("/_fake/received", self._list_received, methods=["GET"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
            ]
        )

    def reset(self) -> None:
        self.behaviour = Behaviour()
        self.received.clear()
        self.overlapping.clear()
        self._created.clear()

    def created(self, notification_id: str) -> int:
        """How many times this id was answered 201 (once, unless something is wrong)."""
        return sum(1 for seen in self.received if seen.id == notification_id and seen.status == 201)

    @property
    def delivered_ids(self) -> set[str]:
        return {seen.id for seen in self.received if seen.id and seen.status in (201, 409)}

    @property
    def duplicates(self) -> int:
        """Notifications sent again after they had been delivered (answered 409)."""
        return sum(1 for seen in self.received if seen.status == 409)

    async def _notify(self, request: Request) -> Response:
        body = await request.json()
        notification_id = body.get("id") if isinstance(body, dict) else None
        key = str(notification_id)
        if self._in_flight[key]:
            self.overlapping.append(key)
        self._in_flight[key] += 1
        try:
            if self.behaviour.delay_seconds:
                await asyncio.sleep(self.behaviour.delay_seconds)
            response = await self._answer(request, body, key)
        finally:
            self._in_flight[key] -= 1
        self.received.append(
            Received(
                notification_id,
                body,
                response.status_code,
                time.time(),
                request.headers.get("traceparent"),
            )
        )
        return response

    async def _answer(self, request: Request, body: Any, key: str) -> Response:
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"detail": "Invalid token."}, status_code=401)
        if failure := await self._failure():
            return failure
        if not isinstance(body, dict) or not {"id", "owner_id", "email", "message"} <= set(body):
            return JSONResponse({"detail": "id, owner_id, email and message are required"}, 400)
        if key in self._created:
            return JSONResponse({"detail": "A notification with this id exists."}, 409)
        self._created.add(key)
        return JSONResponse({"id": key}, status_code=201)

    async def _failure(self) -> Response | None:
        behaviour = self.behaviour
        if behaviour.fail_next <= 0:
            return None
        behaviour.fail_next -= 1
        if behaviour.fail_mode == "drop":
            return _DropResponse()
        if behaviour.fail_mode == "hang":
            await asyncio.sleep(behaviour.hang_seconds)
        headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else None
        return JSONResponse({"detail": "failing on purpose"}, behaviour.fail_status, headers)

    async def _set_behaviour(self, request: Request) -> Response:
        self.behaviour = Behaviour(**(await request.json()))
        return JSONResponse(asdict(self.behaviour))

    async def _list_received(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "received": [asdict(seen) for seen in self.received],
                "overlapping": self.overlapping,
                "duplicates": self.duplicates,
            }
        )

    async def _reset(self, _request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})


class _DropResponse(Response):
    """Starts an answer that promises a body, then fails: the server drops the connection."""

    status_code = 500

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"100")],
            }
        )
        raise DroppedConnection


def main() -> None:
    parser = argument_parser(__doc__, 8002)
    args = parser.parse_args()
    fake = FakeNotifications(token=args.token)
    print(f"fake notification service at http://{args.host}:{args.port}{NOTIFICATIONS_PATH}")
    serve(fake.app, args)


if __name__ == "__main__":
    main()
