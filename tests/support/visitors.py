"""Visitors going through the API, and what the fake notification service told them."""

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from fakes.notifications import FakeNotifications
from tests.conftest import http_client, running_app
from tests.support.auth import bearer, register
from tests.support.database import empty_database
from tests.support.notifications import eventually, relay_settings

CODE = re.compile(r"код подтверждения: (?P<code>\d{6})")


def visitor(n: int | str = 0) -> dict[str, str]:
    return {"full_name": f"Гость {n}", "email": f"guest{n}@example.com"}


@dataclass
class Session:
    """A signed-in user of the API."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def register(self, event_id: object, who: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            f"/api/events/{event_id}/register", json=who or visitor(), headers=self.headers
        )

    async def join(self, event_id: object, who: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            f"/api/events/{event_id}/waitlist", json=who or visitor(), headers=self.headers
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers=self.headers)

    async def post(self, path: str, body: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(path, headers=self.headers)

    async def confirm(self, registration_id: object, code: str) -> httpx.Response:
        return await self.post(f"/api/registrations/{registration_id}/confirm", {"code": code})


async def sign_in(http: httpx.AsyncClient, username: str | None = None) -> Session:
    tokens = await register(http, username or f"user-{uuid.uuid4().hex[:10]}")
    return Session(http, bearer(str(tokens["access_token"])))


def notices_to(notifications: FakeNotifications, email: str) -> list[str]:
    """The texts the service created for `email`, oldest first (it creates each id once)."""
    return [
        received.body["message"]
        for received in notifications.received
        if received.status == 201 and received.body.get("email") == email
    ]


async def notices_when(
    notifications: FakeNotifications, email: str, count: int, timeout: float = 20.0
) -> list[str]:
    """The notices for `email` once there are `count` of them."""
    await eventually(lambda: len(notices_to(notifications, email)) >= count, timeout)
    return notices_to(notifications, email)


async def latest_code(notifications: FakeNotifications, email: str, count: int = 1) -> str:
    """The code in the `count`-th notice for `email`."""
    notice = (await notices_when(notifications, email, count))[count - 1]
    match = CODE.search(notice)
    assert match, notice
    return match["code"]


@asynccontextmanager
async def relaying_app(
    database_url: str, notifications: FakeNotifications, **settings: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app whose relay delivers to the fake, with these settings, over empty tables: emptied
    before its relay starts, which would otherwise deliver what an earlier test left queued."""
    await empty_database(database_url)
    notifications.reset()
    async with (
        running_app(relay_settings(database_url, notifications.url, **settings)) as app,
        http_client(app) as http,
    ):
        yield app, http
