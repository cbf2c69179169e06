"""Every database test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.core.config import Settings, load_settings
from app.main import create_app
from tests.support.database import empty_tables, postgres_url, prepare_database

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'events_face.db'}"
    else:
        url = postgres_url() or ""
        if not url:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    await prepare_database(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "jwt_secret_key": TEST_SECRET,
        "sync_interval_seconds": 0,
        "outbox_relay_enabled": False,
        # Each test file checks its own limits; the shared app must never throttle the suite.
        "rate_limit_auth": "100000/minute",
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
async def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` over empty tables."""
    await empty_tables(app.state.engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as http:
        yield http


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
