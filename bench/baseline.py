"""The yardstick for `bench.load`: the least code that does the work of `GET /api/events`.

Starlette, asyncpg and orjson, no ORM, no dependency injection, no middleware, no logging,
nothing kept between requests: verify the bearer token
(PyJWT, the same key, algorithm and required claims), count, fetch the page (the same filter,
order and join), and write the same JSON. Only what the bench asks for is implemented: the
`name`/`search` filter, `page` and `page_size`, the default ordering.

    BASELINE_DATABASE_URL=postgresql://... JWT_SECRET_KEY=... uvicorn bench.baseline:app
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.config import DEFAULT_DATABASE_POOL_SIZE
from app.events.models import registration_is_open

REQUIRED_CLAIMS = ["sub", "type", "jti", "iat", "exp", "iss"]
SELECT_PAGE = """
    SELECT e.id, e.name, e.event_time, e.registration_deadline, e.provider_status,
        e.number_of_visitors, e.capacity, e.registrations_count, e.waitlist_count, v.id AS venue_id,
        v.name AS venue_name, v.city AS venue_city, v.address AS venue_address
    FROM events e LEFT OUTER JOIN venues v ON v.id = e.venue_id {where}
    ORDER BY e.event_time ASC NULLS LAST, e.id ASC LIMIT $1 OFFSET $2
"""
SELECT_COUNT = "SELECT count(*) FROM events e {where}"
NAME_LIKE = "WHERE e.name_folded LIKE $3 ESCAPE '\\'"
# Two statements each, with and without the filter, as the ORM builds them.
PAGE_SQL = {False: SELECT_PAGE.format(where=""), True: SELECT_PAGE.format(where=NAME_LIKE)}
COUNT_SQL = {
    False: SELECT_COUNT.format(where=""),
    True: SELECT_COUNT.format(where=NAME_LIKE.replace("$3", "$1")),
}


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, detail: str) -> Response:
    return _json({"status": status, "detail": detail}, status)


def access_token_subject(authorization: str) -> uuid.UUID | None:
    """The user named by the access token of an `Authorization: Bearer …` header, verified as
    the service verifies it (no token remembered); None unless it verifies."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = jwt.decode(
            token,
            os.environ["JWT_SECRET_KEY"],
            algorithms=["HS256"],
            issuer=os.environ.get("JWT_ISSUER", "events-face"),
            options={"require": REQUIRED_CLAIMS},
        )
        subject = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError):
        return None
    return subject if claims["type"] == "access" else None


def _authenticated(request: Request) -> bool:
    return access_token_subject(request.headers.get("authorization", "")) is not None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    venue = None
    if row["venue_id"] is not None:
        venue = {
            "id": str(row["venue_id"]),
            "name": row["venue_name"],
            "city": row["venue_city"],
            "address": row["venue_address"],
        }
    capacity = row["capacity"]
    is_open = registration_is_open(row["provider_status"], row["registration_deadline"], now)
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "event_time": _iso(row["event_time"]),
        "registration_deadline": _iso(row["registration_deadline"]),
        "status": "open" if is_open else "closed",
        "provider_status": row["provider_status"],
        "number_of_visitors": row["number_of_visitors"],
        "venue": venue,
        "capacity": capacity,
        "registrations_count": row["registrations_count"],
        "seats_left": None if capacity is None else max(capacity - row["registrations_count"], 0),
        "waitlist_count": row["waitlist_count"] if is_open else 0,
    }


def _pattern(request: Request) -> str | None:
    text = request.query_params.get("name") or request.query_params.get("search")
    if not text:
        return None
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_events(request: Request) -> Response:
    if not _authenticated(request):
        return _error(401, "Not authenticated")
    page = int(request.query_params.get("page", 1))
    size = int(request.query_params.get("page_size", 10))
    pattern = _pattern(request)
    async with request.app.state.pool.acquire() as connection:
        filters = [] if pattern is None else [pattern]
        count = await connection.fetchval(COUNT_SQL[bool(filters)], *filters)
        if page > 1 and (page - 1) * size >= count:
            return _error(404, "Invalid page.")
        rows = await connection.fetch(PAGE_SQL[bool(filters)], size, (page - 1) * size, *filters)
    now = datetime.now(UTC)
    has_next = page * size < count
    return _json(
        {
            "count": count,
            "next": str(request.url.include_query_params(page=page + 1)) if has_next else None,
            "previous": str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
            "results": [_event(row, now) for row in rows],
        }
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # As many connections as the service's pool keeps by default (app/core/config.py).
    dsn = os.environ["BASELINE_DATABASE_URL"]
    size = DEFAULT_DATABASE_POOL_SIZE
    async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as pool:
        app.state.pool = pool
        yield


app = Starlette(routes=[Route("/api/events", list_events)], lifespan=lifespan)
