"""Real concurrency: two app instances (each with its own connection pool) on PostgreSQL, one
on SQLite, over empty tables, and counts taken in the database afterwards."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.database import empty_tables
from tests.support.visitors import Session, sign_in

# One user makes every registration and entry here: the per-user limit must not be what refuses.
# Twenty connections per replica, more than the default, so that more transactions overlap (and
# few enough to fit PostgreSQL's connection limit).
GENEROUS = {"registrations_per_user_per_event": 1000, "database_pool_size": 20}


@dataclass
class Replicas:
    app: FastAPI  # the first one, for set-up and counting
    sessions: list[Session]  # one user, signed in on each replica


@asynccontextmanager
async def replicas(database_url: str, **settings: object) -> AsyncIterator[Replicas]:
    """Two app instances on PostgreSQL, one on SQLite, over empty tables."""
    count = 2 if database_url.startswith("postgresql") else 1
    async with AsyncExitStack() as stack:
        apps: list[FastAPI] = [
            await stack.enter_async_context(
                running_app(make_settings(database_url, **{**GENEROUS, **settings}))
            )
            for _ in range(count)
        ]
        await empty_tables(database_of(apps[0]).engine)
        clients = [await stack.enter_async_context(http_client(app)) for app in apps]
        first = await sign_in(clients[0], "concurrency")
        yield Replicas(apps[0], [first, *(Session(http, first.headers) for http in clients[1:])])


async def count(app: FastAPI, statement) -> int:
    async with database_of(app).transaction() as work:
        return (await work.session.scalar(statement)) or 0
