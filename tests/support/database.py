"""Test databases: a fresh schema per session, emptied between tests."""

import asyncio
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.database import create_engine, utcnow
from app.core.migrations import upgrade_to_head
from app.events.models import CatalogueVersion
from app.models import Base

POSTGRES_URL_VARIABLE = "TEST_DATABASE_URL"
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for "deadlock detected"
DEADLOCK_ATTEMPTS = 5


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


async def reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def prepare_database(url: str) -> None:
    if url.startswith("postgresql"):
        await reset_postgres_schema(url)
    await asyncio.to_thread(upgrade_to_head, url)


def _tables_children_first() -> Iterator[str]:
    for table in reversed(Base.metadata.sorted_tables):
        yield table.name


async def empty_tables(engine: AsyncEngine) -> None:
    """Every table empty, but for the catalogue's version: a new token, as any change to the
    catalogue makes, so that no page kept under the old one is served again."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            await _empty_tables_once(engine)
            return
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != DEADLOCK or attempt == DEADLOCK_ATTEMPTS:
                raise
            await asyncio.sleep(0.2 * attempt)


async def _empty_tables_once(engine: AsyncEngine) -> None:
    """One attempt. On PostgreSQL it can lose a deadlock to the backend of an app a previous
    test stopped: a background job cancelled at shutdown leaves the statement it had sent
    running on the server until that statement ends, and a TRUNCATE locks every table."""
    names = list(_tables_children_first())
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE TABLE {', '.join(names)} CASCADE"))
        else:
            for name in names:
                await connection.execute(text(f"DELETE FROM {name}"))  # noqa: S608
        await connection.execute(
            insert(CatalogueVersion).values(id=1, token=uuid.uuid4().hex, changed_at=utcnow())
        )


async def empty_database(url: str) -> None:
    engine = create_engine(url)
    await empty_tables(engine)
    await engine.dispose()


async def create_scratch_postgres_database(url: str, suffix: str) -> str:
    """A new, empty database beside the test one, for tests that migrate down and up."""
    parsed = make_url(url)
    name = f"{parsed.database}_{suffix}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str, scratch_url: str) -> None:
    name = make_url(scratch_url).database
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def terminate_backends_of(url: str, pid: int) -> int:
    """Terminates every PostgreSQL connection of the events-face process `pid` (its
    application_name names it), as a failover or an operator's pg_terminate_backend does."""
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            terminated = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name LIKE :name"
                ),
                {"name": f"events-face:{pid}:%"},
            )
    finally:
        await admin.dispose()
    return int(terminated or 0)
