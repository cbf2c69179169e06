"""The PostgreSQL pool survives its connections dying while idle (a restart, a failover, a
firewall dropping idle sockets) without failing the request that comes next."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.database import create_engine
from tests.support.database import postgres_url

IDLE_SECONDS = 0.3


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    pooled = create_engine(url, pool_size=1, ping_after_idle_seconds=IDLE_SECONDS)
    yield pooled
    await pooled.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(pid: int) -> None:
    """What a server restart does to a pooled connection, seen from the pool."""
    other = create_async_engine(postgres_url() or "", isolation_level="AUTOCOMMIT")
    async with other.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await other.dispose()


async def test_a_connection_that_died_while_idle_is_replaced_before_use(engine):
    dead = await backend_pid(engine)
    await terminate(dead)
    await asyncio.sleep(IDLE_SECONDS * 2)

    assert await backend_pid(engine) != dead


async def test_a_connection_in_steady_use_is_not_checked_and_the_pool_recovers_after_one_error(
    engine,
):
    dead = await backend_pid(engine)
    await terminate(dead)

    with pytest.raises(DBAPIError) as raised:
        await backend_pid(engine)
    assert raised.value.connection_invalidated
    assert await backend_pid(engine) != dead
