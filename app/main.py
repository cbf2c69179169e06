"""The ASGI application: `app.main:app`."""

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.admin.site import mount_admin
from app.auth.router import router as auth_router
from app.auth.service import AuthService
from app.core.background import BackgroundLoops
from app.core.config import ConfigurationError, Settings, get_settings
from app.core.database import create_engine, create_session_factory
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import Metrics, MetricsMiddleware
from app.core.middleware import RequestIdMiddleware, TrailingSlashMiddleware
from app.core.openapi import install_openapi
from app.core.passwords import PasswordHasher
from app.core.ratelimit import RateLimiter, storage_for
from app.core.security import TokenCodec
from app.events.router import router as events_router
from app.events.service import EventService
from app.operations.router import router as operations_router
from app.outbox.relay import OutboxRelay, create_notifications_http_client
from app.registrations.router import router as registrations_router
from app.registrations.service import RegistrationService
from app.stream.consumer import create_stream_consumer
from app.stream.service import StreamService
from app.sync.provider import create_provider_client, create_provider_http_client
from app.sync.router import router as sync_router
from app.sync.service import SyncMode, SyncService

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_SECONDS = 10.0
TOKEN_PURGE_INTERVAL_SECONDS = 3600.0
EVENT_CLEANUP_INTERVAL_SECONDS = 86400.0


def _start_background_loops(app: FastAPI, loops: BackgroundLoops) -> None:
    state = app.state

    async def purge_expired_tokens() -> None:
        async with state.session_factory() as session:
            service = AuthService(session, state.settings, state.token_codec, state.password_hasher)
            await service.purge_expired_tokens()

    loops.every("token-purge", TOKEN_PURGE_INTERVAL_SECONDS, purge_expired_tokens)

    async def delete_ended_events() -> None:
        await EventService(state.engine).delete_ended(state.settings.event_retention_days)

    loops.every("event-cleanup", EVENT_CLEANUP_INTERVAL_SECONDS, delete_ended_events)

    async def purge_expired_idempotency_keys() -> None:
        async with state.session_factory() as session:
            await RegistrationService(
                session, state.settings.secret_key, state.outbox_wake
            ).purge_expired_keys()

    loops.every(
        "idempotency-key-purge", TOKEN_PURGE_INTERVAL_SECONDS, purge_expired_idempotency_keys
    )
    if state.settings.outbox_relay_enabled:
        relay = OutboxRelay(
            state.session_factory,
            state.notifications_http,
            state.settings,
            state.metrics,
            state.outbox_wake,
        )
        loops.run("outbox-relay", relay.run)
    if state.settings.sync_interval_seconds:

        async def incremental_sync() -> None:
            await state.sync_service.run(SyncMode.INCREMENTAL)

        loops.every("events-sync", state.settings.sync_interval_seconds, incremental_sync)
    if state.stream_consumer is not None:
        loops.run("stream-consumer", state.stream_consumer.run)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log_format, settings.log_level)
    if settings.uses_generated_secret:
        logger.warning(
            "JWT_SECRET_KEY is not set: using a random key for this process "
            "(development only; tokens will not survive a restart)"
        )
    engine = create_engine(settings.database_url)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.admin_session_maker.configure(bind=engine)
    app.state.rate_limiter = RateLimiter(storage_for(settings.redis_url), settings.rate_limit_auth)
    provider_http = create_provider_http_client()
    app.state.sync_service = SyncService(
        app.state.session_factory, create_provider_client(provider_http, settings)
    )
    app.state.stream_consumer = create_stream_consumer(
        settings, StreamService(app.state.session_factory, app.state.metrics)
    )
    app.state.outbox_wake = asyncio.Event()
    app.state.notifications_http = create_notifications_http_client(settings)
    loops = BackgroundLoops()
    app.state.background = loops
    _start_background_loops(app, loops)
    try:
        yield
    finally:
        await loops.stop(SHUTDOWN_TIMEOUT_SECONDS)
        await provider_http.aclose()
        await app.state.notifications_http.aclose()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="events-face",
        version=__version__,
        description="Browse the events catalogue, register visitors, confirm registrations.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.token_codec = TokenCodec(settings.secret_key, settings.jwt_issuer)
    app.state.password_hasher = PasswordHasher()
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(events_router)
    app.include_router(operations_router)
    app.include_router(auth_router)
    app.include_router(sync_router)
    app.include_router(registrations_router)
    app.state.admin_session_maker = mount_admin(app)
    app.state.metrics = Metrics()
    # Innermost, so that it sees the route the router matched on the (rewritten) scope.
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(TrailingSlashMiddleware, prefixes=("/api/", "/health/"))
    app.add_middleware(RequestIdMiddleware)
    return app


def _app_from_environment() -> FastAPI:
    try:
        return create_app(get_settings())
    except ConfigurationError as error:
        print(f"events-face: {error}", file=sys.stderr)
        raise SystemExit(1) from None


app = _app_from_environment()
