"""RATE_LIMIT_AUTH on login, register and refresh: per client IP and per username."""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.ratelimit import storage_for
from app.main import create_app
from tests.conftest import make_settings


@asynccontextmanager
async def limited_client(
    database_url: str, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings(database_url, **overrides))
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        yield http


def login(http: httpx.AsyncClient, username: str = "ivan", forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return http.post(
        "/api/auth/login",
        json={"username": username, "password": "wrong-password"},
        headers=headers,
    )


async def test_the_limit_answers_429_with_retry_after(database_url):
    async with limited_client(database_url, rate_limit_auth="3/minute") as http:
        allowed = [(await login(http)).status_code for _ in range(3)]
        refused = await login(http)

    assert allowed == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_one_client_is_limited_across_usernames(database_url):
    async with limited_client(database_url, rate_limit_auth="3/minute") as http:
        for name in ("ivan", "maria", "oleg"):
            await login(http, name)
        refused = await login(http, "pyotr")

    assert refused.status_code == 429


async def test_one_username_is_limited_across_client_addresses(database_url):
    async with limited_client(
        database_url, rate_limit_auth="3/minute", trusted_proxies="127.0.0.1/32"
    ) as http:
        for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            await login(http, "ivan", forwarded_for=address)
        refused = await login(http, "ivan", forwarded_for="203.0.113.4")
        other_user = await login(http, "maria", forwarded_for="203.0.113.5")

    assert refused.status_code == 429
    assert other_user.status_code == 401


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(database_url):
    async with limited_client(database_url, rate_limit_auth="3/minute") as http:
        for index in range(3):
            await login(http, f"user{index}", forwarded_for=f"203.0.113.{index}")
        refused = await login(http, "user9", forwarded_for="203.0.113.9")

    assert refused.status_code == 429


async def test_register_and_refresh_are_limited_too(database_url):
    async with limited_client(database_url, rate_limit_auth="1/minute") as http:
        first = await http.post(
            "/api/auth/register", json={"username": "ivan", "password": "long-enough-pw"}
        )
        second = await http.post(
            "/api/auth/register", json={"username": "maria", "password": "long-enough-pw"}
        )
        refreshes = [
            (await http.post("/api/auth/token/refresh", json={"refresh": "x"})).status_code
            for _ in range(2)
        ]

    assert (first.status_code, second.status_code) == (201, 429)
    assert refreshes == [401, 429]


async def test_the_limit_resets_after_its_window(database_url):
    async with limited_client(database_url, rate_limit_auth="2/second") as http:
        await login(http)
        await login(http)
        assert (await login(http)).status_code == 429

        await asyncio.sleep(1.1)

        assert (await login(http)).status_code == 401


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("shared rate-limit tests need TEST_REDIS_URL (a Redis database to flush)")
    await storage_for(url).reset()
    yield url
    await storage_for(url).reset()


async def test_two_instances_share_the_limit_through_redis(database_url, redis_url):
    settings = {"rate_limit_auth": "3/minute", "redis_url": redis_url}
    async with (
        limited_client(database_url, **settings) as replica_a,
        limited_client(database_url, **settings) as replica_b,
    ):
        await login(replica_a)
        await login(replica_a)
        third = await login(replica_b)
        fourth = await login(replica_b)
        fifth = await login(replica_a)

    assert third.status_code == 401
    assert fourth.status_code == 429
    assert fifth.status_code == 429
