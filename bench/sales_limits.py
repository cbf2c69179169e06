"""The yardsticks of `bench.sales`: the least honest work a registration needs, and a server
that does none, to measure the bench's own client against.

`naive` and `buckets` are Starlette apps on an asyncpg pool (30 connections, as many as the
service's pool may open) that answer `POST /api/events/{id}/register` as the service does:
the bearer token verified with PyJWT (the same key, algorithm, issuer and required claims), the
JSON body read, then in one transaction a seat taken, the registration (pending, holding the
seat for REGISTRATION_HOLD_SECONDS' default) and its code notice written into the service's own
tables, commit; 201, or 409 when no seat is left. No logging, no per-user limits, no check that
the event is open, no waiting list.

- `naive` takes the seat on the event's row: one conditional `UPDATE events … RETURNING`.
- `buckets` takes it from one of the event's 16 rows in `bench_seat_buckets` (made by the
  bench), picked at random, and from the others when that one is empty.

`trivial` answers every request 201 with a small JSON body and does nothing else.

    BASELINE_DATABASE_URL=postgresql://... JWT_SECRET_KEY=... uvicorn bench.sales_limits:naive
"""

import hashlib
import hmac
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.config import DEFAULT_DATABASE_POOL_SIZE
from bench.baseline import access_token_subject

BUCKETS = 16
TAKE_EVENT_SEAT = """
    UPDATE events SET registrations_count = registrations_count + 1
    WHERE id = $1 AND registrations_count < capacity RETURNING registrations_count
"""
TAKE_BUCKET_SEAT = """
    UPDATE bench_seat_buckets SET free = free - 1
    WHERE event_id = $1 AND bucket = $2 AND free > 0 RETURNING free
"""
BUCKETS_WITH_SEATS = "SELECT bucket FROM bench_seat_buckets WHERE event_id = $1 AND free > 0"
INSERT_MESSAGE = """
    INSERT INTO outbox_messages
        (id, topic, payload, status, attempts, next_attempt_at, created_at, updated_at)
    VALUES ($1, 'registration.code', $2::json, 'pending', 0, now(), now(), now())
"""
INSERT_REGISTRATION = """
    INSERT INTO registrations
        (id, event_id, user_id, full_name, email, email_key, status, code_hash, failed_attempts,
         codes_resent, created_at, code_sent_at, expires_at, notice_message_id)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, 0, 0, now(), now(),
        now() + interval '1800 seconds', $8)
"""

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
SeatTaker = Callable[[Connection, uuid.UUID], Awaitable[bool]]


async def take_event_seat(connection: Connection, event_id: uuid.UUID) -> bool:
    return await connection.fetchval(TAKE_EVENT_SEAT, event_id) is not None


async def take_bucket_seat(connection: Connection, event_id: uuid.UUID) -> bool:
    """A seat from a random bucket; failing that, from any bucket that still has one. Seats
    only ever go, so no bucket with seats left means the event is full."""
    bucket = random.randrange(BUCKETS)
    if await connection.fetchval(TAKE_BUCKET_SEAT, event_id, bucket) is not None:
        return True
    while rows := await connection.fetch(BUCKETS_WITH_SEATS, event_id):
        for bucket in random.sample([row["bucket"] for row in rows], len(rows)):
            if await connection.fetchval(TAKE_BUCKET_SEAT, event_id, bucket) is not None:
                return True
    return False


def _json(body: object, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _visitor(body: bytes) -> tuple[str, str] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    name, email = data.get("full_name"), data.get("email")
    if not isinstance(name, str) or not name.strip() or not isinstance(email, str):
        return None
    return (name.strip(), email.strip()) if "@" in email else None


def registration_app(take_seat: SeatTaker) -> Starlette:
    async def register(request: Request) -> Response:
        user_id = access_token_subject(request.headers.get("authorization", ""))
        if user_id is None:
            return _json({"status": 401, "detail": "Not authenticated"}, 401)
        visitor = _visitor(await request.body())
        if visitor is None:
            return _json({"status": 422, "detail": "full_name and email are required"}, 422)
        name, email = visitor
        event_id: uuid.UUID = request.path_params["event_id"]
        registration_id, message_id = uuid.uuid4(), uuid.uuid4()
        code = f"{secrets.randbelow(1_000_000):06d}"
        code_hash = hmac.new(
            request.app.state.secret, f"{registration_id}:{code}".encode(), hashlib.sha256
        )
        text = f"Здравствуйте, {name}! Ваш код подтверждения: {code}"
        notice = orjson.dumps({"email": email, "message": text}).decode()
        async with request.app.state.pool.acquire() as connection, connection.transaction():
            if not await take_seat(connection, event_id):
                return _json({"status": 409, "detail": "The event is full."}, 409)
            await connection.execute(INSERT_MESSAGE, message_id, notice)
            await connection.execute(
                INSERT_REGISTRATION,
                registration_id,
                event_id,
                user_id,
                name,
                email,
                email.casefold(),
                code_hash.hexdigest(),
                message_id,
            )
        body = {"id": str(registration_id), "event_id": str(event_id), "status": "pending"}
        return _json(body, 201)

    async def health(_request: Request) -> Response:
        return Response("ok")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = os.environ["BASELINE_DATABASE_URL"]
        size = int(os.environ.get("DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE))
        async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as pool:
            app.state.pool = pool
            app.state.secret = os.environ["JWT_SECRET_KEY"].encode()
            yield

    routes = [
        Route("/api/events/{event_id:uuid}/register", register, methods=["POST"]),
        Route("/health", health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def trivial(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """201 and a small JSON body for any request, once its body is read; nothing else."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", b"20")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"status":"pending"}'})


naive = registration_app(take_event_seat)
buckets = registration_app(take_bucket_seat)
