"""Every database test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.

Two ways to isolate a test:
- `client` and `db` share one connection whose transaction is rolled back when the test ends:
  each request's unit of work commits into a savepoint of it. Cheap, but one request at a time
  and no background work (a relay, a sync run) sees the data.
- `client_of(app)` empties every table first: for tests with real concurrency, other processes,
  or background work that must see what the requests committed.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.core.config import Settings, load_settings
from app.core.database import Database, UnitOfWork
from app.dependencies import container_of, get_database, unit_of_work
from app.main import create_app
from tests.support.database import empty_tables, postgres_url, prepare_database

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
# ENVIRONMENT=test never falls back to local mode: these are never called unless a test serves a
# fake there and says so.
PROVIDER_URL = "https://events.example.com/api/events/"
NOTIFICATIONS_URL = "https://notifications.example.com/api/notifications"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgresql_only("why")`: the test's SQLite run is skipped, saying why."""
    for item in items:
        marker = item.get_closest_marker("postgresql_only")
        callspec = getattr(item, "callspec", None)
        if marker and callspec and callspec.params.get("database_url") == "sqlite":
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {marker.args[0]}"))


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
        "events_provider_url": PROVIDER_URL,
        "notifications_url": NOTIFICATIONS_URL,
        "sync_interval_seconds": 0,
        "outbox_relay_enabled": False,
        # In-process apps share the test runner's signals: none of them drains on SIGTERM.
        "shutdown_drain_seconds": 0,
        # Each test file checks its own limits; the shared app must never throttle the suite.
        "rate_limit_auth": "100000/minute",
        # The catalogue version is read on every request, through the test's own connection
        # (tests/events/test_catalogue_cache.py tries the refresh period itself).
        "catalogue_version_refresh_seconds": 0,
        # Background work that acts on what other tests committed (the session's app runs all
        # along): off, unless a test asks for it. A sweep by another app recorded a test's
        # lapsed hold before the test's own app could.
        "hold_sweep_interval_seconds": 3600,
        "reminders_before_seconds": "",
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


def database_of(app: FastAPI) -> Database:
    return container_of(app).database


def http_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` over empty tables."""
    await empty_tables(database_of(app).engine)
    async with http_client(app) as http:
        yield http


@asynccontextmanager
async def rolled_back(app: FastAPI) -> AsyncIterator[Database]:
    """The app's requests, and the test's own writes through the Database yielded, all in one
    transaction that is rolled back at the end (FastAPI's dependency_overrides route the
    requests' units of work into it)."""
    async with database_of(app).engine.connect() as connection:
        transaction = await connection.begin()
        database = Database.joined_to(connection)

        async def joined() -> Database:
            return database

        async def joined_work() -> AsyncIterator[UnitOfWork]:
            async with database.transaction() as work:
                yield work

        app.dependency_overrides[get_database] = joined
        app.dependency_overrides[unit_of_work] = joined_work
        try:
            yield database
        finally:
            del app.dependency_overrides[get_database], app.dependency_overrides[unit_of_work]
            await transaction.rollback()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application


# Databases that a test may have left rows in (it committed): the next rolled-back test first
# empties them, so that it starts from empty tables too.
_dirty: set[str] = set()


@pytest.fixture(autouse=True)
def _note_committed_rows(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "db" not in request.fixturenames and "database_url" in request.fixturenames:
        _dirty.add(request.getfixturevalue("database_url"))


@pytest.fixture
async def db(app: FastAPI, database_url: str) -> AsyncIterator[Database]:
    """The test's database: what `client` sees, rolled back when the test ends."""
    if database_url in _dirty:
        await empty_tables(database_of(app).engine)
        _dirty.discard(database_url)
    async with rolled_back(app) as database:
        yield database


@pytest.fixture
async def client(app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
