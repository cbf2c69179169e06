import httpx

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
