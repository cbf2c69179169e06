"""A fake events-provider speaking SPEC §6: Bearer check, `changed_at` filter, cursor pages of
ten ordered by `changed_at` descending, absolute `next`/`previous` links. It can misbehave on
demand, from Python (`FakeProvider.behaviour`) or over HTTP (`POST /_fake/behaviour`).

Run it beside the service:
    python -m fakes.provider --port 8001 [--fixture FILE | --generate N] [--keep-dates]
It serves the shared fixture (270 real events) when it is there, else 300 generated events. A
fixture's times are moved so that its newest change is now, unless --keep-dates: a dump taken
months ago then reads as today's, and its published events are open for registration again.
"""

import asyncio
import base64
import bisect
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.sync.generator import generate_events
from fakes.serving import argument_parser, serve

PAGE_SIZE = 10
EVENTS_PATH = "/api/events/"
FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/provider-events-real.json"


@dataclass
class Behaviour:
    """What the fake does wrong, if anything."""

    fail_next: int = 0  # answer the next N page requests with `fail_status`
    fail_status: int = 500
    retry_after: str | None = None  # sent with every failure when set
    fail_after_pages: int | None = None  # serve N pages, then fail every request
    delay_seconds: float = 0.0  # before every answer
    malformed_record: bool = False  # add an unreadable record to every page
    foreign_next: str | None = None  # the first page's `next` points here instead
    repeat_next: bool = False  # every `next` points to the first page again


@dataclass
class SeenRequest:
    url: str
    authorization: str | None


@dataclass
class FakeProvider:
    events: list[dict[str, Any]] = field(default_factory=list)
    token: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[SeenRequest] = field(default_factory=list)
    pages_served: int = 0
    url: str = ""  # where it is served, once it is

    def __post_init__(self) -> None:
        self._ordered: list[dict[str, Any]] | None = None
        self._keys: list[float] = []
        self.app = Starlette(
            routes=[
                Route(EVENTS_PATH, self._list_events),
                Route("/_fake/behaviour", self._set_behaviour, methods=["POST"]),
                Route("/_fake/events", self._put_events, methods=["PUT"]),
            ]
        )

    def reset(self, events: list[dict[str, Any]] | None = None) -> None:
        """Well-behaved again, with `events` and no requests seen."""
        self.behaviour = Behaviour()
        self.requests.clear()
        self.pages_served = 0
        self.replace_events(events or [])

    def replace_events(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self._ordered = None

    def upsert(self, event: dict[str, Any]) -> None:
        """Adds the event, or replaces the one with its id."""
        self.replace_events([kept for kept in self.events if kept["id"] != event["id"]] + [event])

    def _newest_first(self) -> list[dict[str, Any]]:
        if self._ordered is None:
            self._ordered = sorted(self.events, key=_change_key, reverse=True)
            self._keys = [-_change_key(event)[0] for event in self._ordered]
        return self._ordered

    def _changed_on_or_after(self, since: date | None) -> list[dict[str, Any]]:
        ordered = self._newest_first()
        if since is None:
            return ordered
        start = datetime.combine(since, datetime.min.time(), tzinfo=UTC).timestamp()
        return ordered[: bisect.bisect_right(self._keys, -start)]

    async def _list_events(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        self.requests.append(SeenRequest(str(request.url), authorization))
        if self.behaviour.delay_seconds:
            await asyncio.sleep(self.behaviour.delay_seconds)
        if self.token and authorization != f"Bearer {self.token}":
            return JSONResponse({"detail": "Invalid token."}, status_code=401)
        if failure := self._failure():
            return failure
        try:
            since = _since(request.query_params.get("changed_at"))
            offset = _offset(request.query_params.get("cursor"))
        except ValueError:
            return JSONResponse({"detail": "Invalid query."}, status_code=400)
        self.pages_served += 1
        return JSONResponse(self._page(request, since, offset))

    def _failure(self) -> Response | None:
        behaviour = self.behaviour
        exhausted = behaviour.fail_after_pages is not None and (
            self.pages_served >= behaviour.fail_after_pages
        )
        if not exhausted and behaviour.fail_next <= 0:
            return None
        if not exhausted:
            behaviour.fail_next -= 1
        headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else None
        return JSONResponse({"detail": "failing on purpose"}, behaviour.fail_status, headers)

    def _page(self, request: Request, since: date | None, offset: int) -> dict[str, Any]:
        matching = self._changed_on_or_after(since)
        results = list(matching[offset : offset + PAGE_SIZE])
        if self.behaviour.malformed_record:
            results.append({"id": "not-a-uuid", "name": None, "status": 7})
        next_url = None
        if offset + PAGE_SIZE < len(matching):
            next_url = _with_cursor(request, offset + PAGE_SIZE)
        if self.behaviour.repeat_next and next_url:
            next_url = _with_cursor(request, 0)
        if self.behaviour.foreign_next and offset == 0:
            next_url = self.behaviour.foreign_next
        previous_url = _with_cursor(request, offset - PAGE_SIZE) if offset else None
        return {"next": next_url, "previous": previous_url, "results": results}

    async def _set_behaviour(self, request: Request) -> Response:
        self.behaviour = Behaviour(**(await request.json()))
        return JSONResponse(asdict(self.behaviour))

    async def _put_events(self, request: Request) -> Response:
        self.replace_events(await request.json())
        return JSONResponse({"count": len(self.events)})


def _change_key(event: dict[str, Any]) -> tuple[float, str]:
    """Newest change first; records without a readable `changed_at` come last."""
    try:
        changed = datetime.fromisoformat(event["changed_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        changed = float("-inf")
    return changed, str(event.get("id"))


def _since(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    if not decoded.startswith("o="):
        raise ValueError(cursor)
    return max(int(decoded[2:]), 0)


def _with_cursor(request: Request, offset: int) -> str:
    if offset <= 0:
        return str(request.url.remove_query_params("cursor"))
    cursor = base64.urlsafe_b64encode(f"o={offset}".encode()).decode()
    return str(request.url.include_query_params(cursor=cursor))


def fixture_events(path: Path = FIXTURE) -> list[dict[str, Any]]:
    """The real provider's 270 events, flattened from their 27 pages."""
    pages = json.loads(path.read_text(encoding="utf-8"))["pages"]
    return [event for page in pages for event in page]


TIMESTAMPS = frozenset(
    {"event_time", "registration_deadline", "changed_at", "created_at", "status_changed_at"}
)


def moved_to_now(events: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """The events with all their times, their places' too, moved by the same amount, so that
    the newest change is `now`."""
    newest = max(datetime.fromisoformat(event["changed_at"]) for event in events)
    shift = (now or datetime.now(UTC)) - newest
    return [_moved(event, shift) for event in events]


def _moved(record: dict[str, Any], shift: timedelta) -> dict[str, Any]:
    moved = {
        key: (datetime.fromisoformat(value) + shift).isoformat()
        if key in TIMESTAMPS and isinstance(value, str)
        else value
        for key, value in record.items()
    }
    if isinstance(record.get("place"), dict):
        moved["place"] = _moved(record["place"], shift)
    return moved


def main() -> None:
    parser = argument_parser(__doc__, 8001)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--fixture", type=Path, help="a provider dump like the shared fixture")
    source.add_argument("--generate", type=int, metavar="N", help="N generated events")
    parser.add_argument(
        "--keep-dates", action="store_true", help="serve a fixture's times as they were recorded"
    )
    args = parser.parse_args()
    if args.generate is not None or not (args.fixture or FIXTURE.exists()):
        events = generate_events(300 if args.generate is None else args.generate)
    else:
        events = fixture_events(args.fixture or FIXTURE)
        events = events if args.keep_dates else moved_to_now(events)
    fake = FakeProvider(events=events, token=args.token)
    print(
        f"fake events-provider: {len(events)} events at http://{args.host}:{args.port}{EVENTS_PATH}"
    )
    serve(fake.app, args)


if __name__ == "__main__":
    main()
