"""Behind a proxy (SPEC §3): X-Forwarded-For, -Proto and -Host are believed only from
TRUSTED_PROXIES, under `events-face serve` and plain `uvicorn app.main:app` alike: the links the
service builds, the admin's redirects and asset links, and the rate limiter's client address."""

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import database_of, make_settings, running_app
from tests.support.auth import access_token, bearer
from tests.support.database import empty_tables, prepare_database
from tests.support.events import create_event
from tests.support.processes import SERVERS, running_server, service_environment

TRUSTED = "10.0.0.0/8"
PROXY = ("10.0.0.2", 41000)
STRANGER = ("192.0.2.9", 41000)
BACKEND = "http://backend:8000"
FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "events.example.com",
}
# Who asks, and the origin of the links the service gives back.
PEERS = [(PROXY, "https://events.example.com"), (STRANGER, BACKEND)]
PEER_IDS = ["trusted proxy", "untrusted peer"]


@asynccontextmanager
async def from_peer(app: FastAPI, peer: tuple[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=peer)
    async with httpx.AsyncClient(transport=transport, base_url=BACKEND) as http:
        yield http


@pytest.fixture(scope="module")
async def proxied_app(database_url: str) -> AsyncIterator[FastAPI]:
    async with running_app(make_settings(database_url, trusted_proxies=TRUSTED)) as app:
        yield app


@pytest.mark.parametrize(("peer", "origin"), PEERS, ids=PEER_IDS)
async def test_page_links(proxied_app, peer, origin):
    await empty_tables(database_of(proxied_app).engine)
    for _ in range(3):
        await create_event(database_of(proxied_app))
    async with from_peer(proxied_app, peer) as http:
        headers = bearer(await access_token(http, "behind-a-proxy")) | FORWARDED
        page = (await http.get("/api/events?page_size=1&page=2", headers=headers)).json()

    assert page["next"] == f"{origin}/api/events?page_size=1&page=3"
    assert page["previous"] == f"{origin}/api/events?page_size=1&page=1"


@pytest.mark.parametrize(("peer", "origin"), PEERS, ids=PEER_IDS)
async def test_admin_redirects_and_asset_links(proxied_app, peer, origin):
    async with from_peer(proxied_app, peer) as http:
        to_the_site = await http.get("/admin", headers=FORWARDED)
        to_the_login = await http.get("/admin/", headers=FORWARDED)
        login_page = await http.get("/admin/login", headers=FORWARDED)

    assert to_the_site.headers["location"] == f"{origin}/admin/"
    assert to_the_login.headers["location"] == f"{origin}/admin/login"
    assets = re.findall(r"""(?:href|src)=["']([^"']*/statics/[^"']+)["']""", login_page.text)
    assert assets
    assert all(asset.startswith(f"{origin}/admin/statics/") for asset in assets)


@pytest.mark.parametrize(
    ("forwarded_host", "location"),
    [
        ("events.example.com, edge.example.com:8443", "https://edge.example.com:8443/admin/"),
        ("evil.example.com/path", "https://backend:8000/admin/"),
        ("two words", "https://backend:8000/admin/"),
    ],
    ids=["the nearest proxy's", "a path", "not a host"],
)
async def test_the_forwarded_host_is_the_nearest_proxys_and_well_formed(
    proxied_app, forwarded_host, location
):
    async with from_peer(proxied_app, PROXY) as http:
        response = await http.get(
            "/admin", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": forwarded_host}
        )

    assert response.headers["location"] == location


async def test_the_rate_limiter_counts_the_forwarded_client_only_from_a_trusted_proxy(
    database_url,
):
    settings = make_settings(database_url, trusted_proxies=TRUSTED, rate_limit_auth="2/minute")
    async with running_app(settings) as app:

        async def login(peer: tuple[str, int], forwarded_for: str, n: int) -> int:
            async with from_peer(app, peer) as http:
                response = await http.post(
                    "/api/auth/login",
                    json={"username": f"user{n}", "password": "wrong-password"},
                    headers={"X-Forwarded-For": forwarded_for},
                )
            return response.status_code

        proxied = [await login(PROXY, address, n) for n, address in enumerate(["203.0.113.1"] * 3)]
        another_client = await login(PROXY, "203.0.113.2", 3)
        direct = [await login(STRANGER, f"203.0.113.{n}", 10 + n) for n in range(3)]

    assert proxied == [401, 401, 429]
    assert another_client == 401
    assert direct == [401, 401, 429]


@pytest.mark.slow
@pytest.mark.parametrize("trusted", ["", "127.0.0.1"], ids=["untrusted", "trusted"])
async def test_both_servers_believe_the_headers_only_from_trusted_proxies(tmp_path, trusted):
    """Plain uvicorn trusts X-Forwarded-For and -Proto from 127.0.0.1 by default: the app must
    still listen to TRUSTED_PROXIES alone."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'proxied.db'}"
    await prepare_database(database_url)
    env = service_environment(database_url, TRUSTED_PROXIES=trusted, RATE_LIMIT_AUTH="2/minute")
    async with AsyncExitStack() as servers:
        # One after the other: each takes its port before the next looks for a free one.
        base_urls = [
            await servers.enter_async_context(running_server(command, env, tmp_path / f"{n}.log"))
            for n, command in enumerate(SERVERS)
        ]
        answers = {
            command: await _admin_location_and_login_statuses(base_url)
            for command, base_url in zip(SERVERS, base_urls, strict=True)
        }

    for command, base_url in zip(SERVERS, base_urls, strict=True):
        origin = "https://events.example.com" if trusted else base_url
        expected_statuses = [401, 401, 401] if trusted else [401, 401, 429]
        assert answers[command] == (f"{origin}/admin/", expected_statuses), command


async def _admin_location_and_login_statuses(base_url: str) -> tuple[str, list[int]]:
    """Where /admin leads, and three failed logins' statuses (the limit is two a client)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        location = (await http.get("/admin", headers=FORWARDED)).headers["location"]
        statuses = [
            (
                await http.post(
                    "/api/auth/login",
                    json={"username": f"user{n}", "password": "wrong-password"},
                    headers={"X-Forwarded-For": address},
                )
            ).status_code
            for n, address in enumerate(["203.0.113.1", "203.0.113.1", "203.0.113.2"])
        ]
    return location, statuses
