"""The way to the door through the API: confirmed visitors, door staff, and their scans."""

import uuid
from typing import Any

from sqlalchemy import update

from app.auth.models import User
from app.core.database import Database
from fakes.notifications import FakeNotifications
from tests.support.auth import bearer, register
from tests.support.visitors import Session, latest_code, visitor


async def confirmed(
    session: Session, notifications: FakeNotifications, event_id: object, who: int | str = 0
) -> dict[str, Any]:
    """A registration of `visitor(who)`, confirmed with the code the fake received."""
    registration = (await session.register(event_id, visitor(who))).json()
    code = await latest_code(notifications, visitor(who)["email"])
    answer = await session.confirm(registration["id"], code)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def door_staff(session_http, database: Database, username: str = "door") -> Session:
    """A user with the door role (as `events-face grant-door` gives it)."""
    tokens = await register(session_http, username)
    async with database.transaction() as work:
        await work.session.execute(
            update(User).where(User.username == username).values(is_door=True)
        )
    return Session(session_http, bearer(str(tokens["access_token"])))


def scan(event_id: object, token: str, nonce: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": str(event_id), "token": token, **fields}
    if nonce is not None:
        body["nonce"] = nonce
    return body


def new_nonce() -> str:
    return uuid.uuid4().hex
