"""The ASGI application: `app.main:app`."""

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.admin.site import bind_admin, mount_admin
from app.auth.router import router as auth_router
from app.container import open_container
from app.core.config import ConfigurationError, Settings, settings_from_environment
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import Metrics, MetricsMiddleware
from app.core.middleware import RequestIdMiddleware, TrailingSlashMiddleware
from app.core.openapi import install_openapi
from app.core.shutdown import CloseConnectionsWhileDraining, Drain, draining_on_sigterm
from app.events.router import router as events_router
from app.jobs import jobs_for_the_app, start_jobs
from app.operations.router import router as operations_router
from app.registrations.router import router as registrations_router
from app.registrations.router import waitlist_router
from app.sync.router import router as sync_router

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_from_environment()
    metrics = Metrics()
    drain = Drain()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_format, settings.log_level)
        if settings.uses_generated_secret:
            logger.warning(
                "JWT_SECRET_KEY is not set: using a random key for this process "
                "(development only; tokens will not survive a restart)"
            )
        async with open_container(settings, metrics=metrics, drain=drain) as container:
            app.state.container = container
            bind_admin(admin, container)
            start_jobs(container, jobs_for_the_app(container))
            with draining_on_sigterm(drain, settings.shutdown_drain_seconds):
                yield

    app = FastAPI(
        title="events-face",
        version=__version__,
        description="Browse the events catalogue, register visitors, confirm registrations.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    install_error_handlers(app)
    install_openapi(app)
    # The events router first: FastAPI tries routes in order, and the list is the hot path.
    app.include_router(events_router)
    app.include_router(operations_router)
    app.include_router(auth_router)
    app.include_router(sync_router)
    app.include_router(registrations_router)
    app.include_router(waitlist_router)
    admin = mount_admin(app, settings)
    # Innermost, so that it sees the route the router matched on the (rewritten) scope.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(TrailingSlashMiddleware, prefixes=("/api/", "/health/"))
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(CloseConnectionsWhileDraining, drain=drain)
    return app


def _app_from_environment() -> FastAPI:
    try:
        return create_app(settings_from_environment())
    except ConfigurationError as error:
        print(f"events-face: {error}", file=sys.stderr)
        raise SystemExit(1) from None


app = _app_from_environment()
