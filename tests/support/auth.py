import httpx
from sqlalchemy import update

from app.auth.models import User
from app.core.database import Database

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


async def make_staff(database: Database, username: str) -> None:
    async with database.transaction() as work:
        await work.session.execute(
            update(User).where(User.username == username).values(is_staff=True)
        )


async def staff_token(
    client: httpx.AsyncClient, database: Database, username: str = "admin"
) -> str:
    token = await access_token(client, username)
    await make_staff(database, username)
    return token


async def admin_login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    """The admin site's login form, sent (its answer not followed)."""
    return await client.post(
        "/admin/login", data={"username": username, "password": password}, follow_redirects=False
    )
