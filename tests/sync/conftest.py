import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.dependencies import container_of
from app.sync.provider import EventsProviderClient
from app.sync.service import SyncService
from fakes.provider import FakeProvider
from tests.conftest import client_of, make_settings, running_app
from tests.support.servers import served_provider

PROVIDER_TOKEN = "provider-token-that-must-stay-home"


@pytest.fixture(scope="module")
async def fake_provider() -> AsyncIterator[FakeProvider]:
    async with served_provider(FakeProvider(token=PROVIDER_TOKEN)) as fake:
        yield fake


@pytest.fixture
def provider(fake_provider: FakeProvider) -> FakeProvider:
    fake_provider.reset()
    return fake_provider


@pytest.fixture(scope="module")
async def sync_app(database_url: str, fake_provider: FakeProvider) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url,
        events_provider_url=fake_provider.url,
        events_provider_token=PROVIDER_TOKEN,
    )
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def sync_client(sync_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(sync_app) as http:
        yield http


@pytest.fixture
async def sync_service(
    sync_app: FastAPI, sync_client: httpx.AsyncClient, provider: FakeProvider
) -> AsyncIterator[SyncService]:
    """The app's sync, with retries that back off in milliseconds rather than seconds."""
    async with httpx.AsyncClient() as http:
        client = EventsProviderClient(
            http,
            provider.url,
            PROVIDER_TOKEN,
            max_attempts=3,
            backoff_base=0.001,
            backoff_cap=0.01,
        )
        container = container_of(sync_app)
        yield SyncService(container.database, client, container.provider_updates, container.tracer)


async def finished_runs(client, headers, *, timeout: float = 10.0) -> list[dict]:
    """Polls /api/sync/runs until no run is running any more."""
    async with asyncio.timeout(timeout):
        while True:
            runs = (await client.get("/api/sync/runs", headers=headers)).json()
            if runs and all(run["status"] != "running" for run in runs):
                return runs
            await asyncio.sleep(0.05)
