"""An answer that is not HTTP at all is a failed send like any other (counted, retried, dead
after OUTBOX_MAX_ATTEMPTS), never a crash of the relay that would retry it uncounted."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.conftest import database_of, running_app
from tests.support.database import empty_database
from tests.support.notifications import (
    MAX_ATTEMPTS,
    eventually,
    new_ids,
    relay_settings,
    seed_messages,
    status_of,
)


@asynccontextmanager
async def gibberish_service() -> AsyncIterator[str]:
    """A "notification service" that answers every request with something that is not HTTP."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/api/notifications"


async def test_an_answer_that_is_not_http_is_a_failed_attempt(database_url):
    await empty_database(database_url)
    async with gibberish_service() as url, running_app(relay_settings(database_url, url)) as app:
        [message_id] = ids = new_ids(1)
        await seed_messages(database_of(app), ids)

        async def dead() -> bool:
            return await status_of(app, message_id) == ("dead", MAX_ATTEMPTS)

        await eventually(dead)
