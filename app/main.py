"""The ASGI application: `app.main:app`."""

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.admin.site import ADMIN_PATH, bind_admin, mount_admin
from app.auth.erased import ERASURE_CHANNEL
from app.auth.router import router as auth_router
from app.container import open_container
from app.core.config import ConfigurationError, Settings, settings_from_environment
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import Metrics, MetricsMiddleware
from app.core.middleware import (
    RequestIdMiddleware,
    TrailingSlashMiddleware,
    TrustedProxyHeaders,
    keep_uvicorn_from_trusting_its_own_default,
)
from app.core.offline_docs import install_offline_docs
from app.core.openapi import install_openapi
from app.core.shutdown import CloseConnectionsWhileDraining, Drain, draining_on_sigterm
from app.core.tracing import tracing_from
from app.events.router import router as events_router
from app.jobs import jobs_for_the_app, start_jobs
from app.operations.router import router as operations_router
from app.privacy.router import router as privacy_router
from app.registrations.router import router as registrations_router
from app.registrations.router import waitlist_router
from app.sync.router import router as sync_router
from app.tickets.router import checkin_router
from app.tickets.router import router as tickets_router

if TYPE_CHECKING:
    from app.core.telemetry import Tracing

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, tracing: "Tracing | None" = None) -> FastAPI:
    """The app; its traces go to `tracing` when given (a test's exporter), else where the
    settings say (none by default)."""
    settings = settings or settings_from_environment()
    configure_logging(settings.log_format, settings.log_level)
    metrics = Metrics()
    drain = Drain()
    tracing = tracing or tracing_from(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _announce_local_mode(settings)
        if settings.uses_generated_secret:
            logger.warning(
                "JWT_SECRET_KEY is not set: using a random key for this process "
                "(development only; tokens will not survive a restart)"
            )
        async with open_container(
            settings, metrics=metrics, drain=drain, tracing=tracing
        ) as container:
            app.state.container = container
            await container.ticket_keys.load_early(container.database)
            await container.erased_users.load_early()
            container.listener.subscribe(ERASURE_CHANNEL, container.erased_users.read_soon)
            bind_admin(admin, container)
            start_jobs(container, jobs_for_the_app(container))
            with draining_on_sigterm(drain, settings.shutdown_drain_seconds):
                yield

    # Swagger UI's and ReDoc's scripts and styles are served from the fastapi-offline package,
    # so that /docs and /redoc work with no internet; ReDoc's page is ours (its logo).
    app = FastAPIOffline(
        title="events-face",
        version=__version__,
        description="Browse the events catalogue, register visitors, confirm registrations.",
        lifespan=lifespan,
        redirect_slashes=False,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)
    # In the order of the traffic when sales open (the list, then registering): FastAPI tries
    # every route of each router in turn, about 60 K instructions a router (bench/README.md).
    app.include_router(events_router)
    app.include_router(registrations_router)
    app.include_router(operations_router)
    app.include_router(auth_router)
    app.include_router(privacy_router)
    app.include_router(sync_router)
    app.include_router(waitlist_router)
    app.include_router(tickets_router)
    app.include_router(checkin_router)
    install_offline_docs(app)
    admin = mount_admin(app, settings)
    # Innermost, so that it sees the route the router matched on the (rewritten) scope.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(TrailingSlashMiddleware, keep=(ADMIN_PATH + "/",))
    app.add_middleware(TrustedProxyHeaders, trusted=settings.trusted_proxies)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(CloseConnectionsWhileDraining, drain=drain)
    if tracing is not None:
        tracing.instrument_app(app)
    return app


def _announce_local_mode(settings: Settings) -> None:
    if settings.events_provider_url is None:
        logger.info(
            "local mode: EVENTS_PROVIDER_URL is empty, so the sync reads generated open events "
            "(development only)"
        )
    if settings.notifications_url is None:
        logger.info(
            "local mode: NOTIFICATIONS_URL is empty, so notices, codes included, are written to "
            "this log instead of being sent (development only)"
        )


# Collect the youngest generation every 7,000 allocations, not 700: each request allocates
# thousands of short-lived objects, and fewer, larger sweeps cost less in all.
GC_THRESHOLDS = (7000, 10, 10)


def _tune_garbage_collector() -> None:
    """Moves what start-up built (modules, routes, metadata: most of the heap) out of the
    collector's sight, so that a full collection no longer walks it again and again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _app_from_environment() -> FastAPI:
    """The process's app, however it is started (`events-face serve`, `uvicorn app.main:app`):
    its logging and garbage collector are set up here, once."""
    keep_uvicorn_from_trusting_its_own_default()
    try:
        app = create_app(settings_from_environment())
    except ConfigurationError as error:
        print(f"events-face: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    _tune_garbage_collector()
    return app


app = _app_from_environment()
