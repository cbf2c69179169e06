"""ASGI apps (our fakes) served over real HTTP on a free port, inside the test's event loop."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from fakes.provider import EVENTS_PATH, FakeProvider
from tests.support.processes import free_port


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serves `app` until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def served_provider(provider: FakeProvider | None = None) -> AsyncIterator[FakeProvider]:
    """The fake events-provider served until the block ends, its `url` set."""
    provider = provider or FakeProvider()
    async with serving(provider.app) as base_url:
        provider.url = base_url + EVENTS_PATH
        yield provider
