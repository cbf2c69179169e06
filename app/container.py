"""The application's collaborators, made once per process and handed around typed: to routes
through the dependencies of app/dependencies.py, to the background jobs (app/jobs.py) and to
the CLI. `open_container` makes them and, on the way out, stops the background work and closes
every client and the database, in that order."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from opentelemetry.trace import Tracer

from app.auth.erased import ErasedUsers
from app.core.background import BackgroundLoops
from app.core.config import Settings
from app.core.database import Database, create_engine
from app.core.listener import Listener
from app.core.metrics import Metrics
from app.core.passwords import PasswordHasher
from app.core.ratelimit import RateLimiter, storage_for
from app.core.security import TokenCodec
from app.core.shutdown import Drain
from app.core.tracing import NO_TRACER, tracing_from
from app.events.cache import PageCache
from app.events.version import LatestVersion
from app.flows import ProviderUpdates
from app.outbox.transport import create_notifications_http_client
from app.registrations.lifecycle import Surroundings, surroundings_for
from app.stream.service import StreamService
from app.sync.provider import create_provider_client, create_provider_http_client
from app.sync.service import SyncService
from app.tickets.signing import TicketKeyring

if TYPE_CHECKING:
    from app.core.telemetry import Tracing
    from app.stream.consumer import StreamConsumer

# Background work gets this long to stop (inside uvicorn's graceful-shutdown window).
BACKGROUND_STOP_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    settings: Settings
    database: Database
    metrics: Metrics
    token_codec: TokenCodec
    # The accounts erased while their access tokens may still live (app/auth/erased.py).
    erased_users: ErasedUsers
    password_hasher: PasswordHasher
    rate_limiter: RateLimiter
    # Set once a unit of work that wrote an outbox message commits, here or (through the
    # listener) in another process: the relay sends at once.
    relay_wake: asyncio.Event
    # PostgreSQL LISTEN/NOTIFY: wake-ups from other processes (app/core/listener.py).
    listener: Listener
    notifications_http: httpx.AsyncClient
    # What this process knows of the catalogue's version, and its pages kept under it.
    catalogue_version: LatestVersion
    catalogue_pages: PageCache
    # What every path that frees or fills seats needs besides its unit of work.
    surroundings: Surroundings
    # Provider records into the catalogue, with registrations following (sync and stream).
    provider_updates: ProviderUpdates
    sync: SyncService
    stream_consumer: "StreamConsumer | None"
    # The keys that sign and verify ticket tokens (read once, when first needed).
    ticket_keys: TicketKeyring
    background: BackgroundLoops
    drain: Drain
    # Spans of the background work (the relay's sends, sync runs, stream messages); a no-op
    # tracer when tracing is off.
    tracer: Tracer


@asynccontextmanager
async def open_container(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    drain: Drain | None = None,
    tracing: "Tracing | None" = None,
) -> AsyncIterator[Container]:
    """The collaborators; traced through `tracing`, or as the settings say, and that tracing
    closed with them."""
    tracing = tracing or tracing_from(settings)
    database = Database(create_engine(settings.database_url, pool_size=settings.database_pool_size))
    metrics = metrics or Metrics()
    relay_wake = asyncio.Event()
    surroundings = surroundings_for(settings, database, relay_wake, metrics)
    catalogue_version = surroundings.catalogue_version
    updates = ProviderUpdates(surroundings)
    provider_http = create_provider_http_client()
    notifications_http = create_notifications_http_client(settings)
    tracer = tracing.tracer if tracing else NO_TRACER
    if tracing is not None:
        tracing.instrument_engine(database.engine)
        tracing.instrument_client(provider_http)
        tracing.instrument_client(notifications_http)
    background = BackgroundLoops()
    container = Container(
        settings=settings,
        database=database,
        metrics=metrics,
        token_codec=TokenCodec(settings.secret_key, settings.jwt_issuer),
        erased_users=ErasedUsers(database, background, settings.access_token_ttl_seconds),
        password_hasher=PasswordHasher(),
        rate_limiter=RateLimiter(storage_for(settings.redis_url), settings.rate_limit_auth),
        relay_wake=relay_wake,
        listener=Listener(database.engine, background),
        notifications_http=notifications_http,
        catalogue_version=catalogue_version,
        catalogue_pages=PageCache(catalogue_version, settings.catalogue_cache_bytes),
        surroundings=surroundings,
        provider_updates=updates,
        sync=SyncService(
            database, create_provider_client(provider_http, settings), updates, tracer
        ),
        stream_consumer=_stream_consumer(
            settings, StreamService(database, updates, metrics, tracer)
        ),
        ticket_keys=TicketKeyring(settings),
        background=background,
        drain=drain or Drain(),
        tracer=tracer,
    )
    try:
        yield container
    finally:
        await container.background.stop(BACKGROUND_STOP_SECONDS)
        await provider_http.aclose()
        await notifications_http.aclose()
        await database.dispose()
        if tracing is not None:
            # The exporter's last send blocks until the collector answers: not on the loop.
            await asyncio.to_thread(tracing.close)


def _stream_consumer(settings: Settings, service: StreamService) -> "StreamConsumer | None":
    """The consumer of the stream BROKER_URL names, or None. Imported only when there is one:
    the brokers' clients (FastStream, aiokafka, redis) took 31 MiB of a process's 111, which
    `sync-events`, `worker` and a replica without a stream do not need."""
    if not settings.broker_url:
        return None
    from app.stream.consumer import create_stream_consumer

    return create_stream_consumer(settings, service)
