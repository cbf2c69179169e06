import httpx
from fastapi import FastAPI
from sqlalchemy import update

from app.auth.models import User

PASSWORD = "correct-horse-battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient, username: str = "ivan", password: str = PASSWORD
) -> dict[str, object]:
    response = await client.post(
        "/api/auth/register", json={"username": username, "password": password}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def access_token(client: httpx.AsyncClient, username: str = "ivan") -> str:
    return str((await register(client, username))["access_token"])


async def make_staff(app: FastAPI, username: str) -> None:
    async with app.state.session_factory() as session:
        await session.execute(update(User).where(User.username == username).values(is_staff=True))
        await session.commit()


async def staff_token(client: httpx.AsyncClient, app: FastAPI, username: str = "admin") -> str:
    token = await access_token(client, username)
    await make_staff(app, username)
    return token
