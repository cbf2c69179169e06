"""The application's collaborators, made once per process and handed around typed: to routes
through the dependencies of app/dependencies.py, to the background jobs (app/jobs.py) and to
the CLI. `open_container` makes them and, on the way out, stops the background work and closes
every client and the database, in that order."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from app.core.background import BackgroundLoops
from app.core.config import Settings
from app.core.database import Database, create_engine
from app.core.metrics import Metrics
from app.core.passwords import PasswordHasher
from app.core.ratelimit import RateLimiter, storage_for
from app.core.security import TokenCodec
from app.outbox.relay import create_notifications_http_client
from app.stream.consumer import StreamConsumer, create_stream_consumer
from app.stream.service import StreamService
from app.sync.provider import create_provider_client, create_provider_http_client
from app.sync.service import SyncService

# Background work gets this long to stop (inside uvicorn's graceful-shutdown window).
BACKGROUND_STOP_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    settings: Settings
    database: Database
    metrics: Metrics
    token_codec: TokenCodec
    password_hasher: PasswordHasher
    rate_limiter: RateLimiter
    # Set once a unit of work that wrote an outbox message commits: the relay sends at once.
    relay_wake: asyncio.Event
    notifications_http: httpx.AsyncClient
    sync: SyncService
    stream_consumer: StreamConsumer | None
    background: BackgroundLoops


@asynccontextmanager
async def open_container(
    settings: Settings, *, metrics: Metrics | None = None
) -> AsyncIterator[Container]:
    database = Database(create_engine(settings.database_url))
    metrics = metrics or Metrics()
    provider_http = create_provider_http_client()
    notifications_http = create_notifications_http_client(settings)
    container = Container(
        settings=settings,
        database=database,
        metrics=metrics,
        token_codec=TokenCodec(settings.secret_key, settings.jwt_issuer),
        password_hasher=PasswordHasher(),
        rate_limiter=RateLimiter(storage_for(settings.redis_url), settings.rate_limit_auth),
        relay_wake=asyncio.Event(),
        notifications_http=notifications_http,
        sync=SyncService(database, create_provider_client(provider_http, settings)),
        stream_consumer=create_stream_consumer(settings, StreamService(database, metrics)),
        background=BackgroundLoops(),
    )
    try:
        yield container
    finally:
        await container.background.stop(BACKGROUND_STOP_SECONDS)
        await provider_http.aclose()
        await notifications_http.aclose()
        await database.dispose()
