import pytest

from tests.support.auth import PASSWORD, bearer, register


async def test_register_creates_user_and_returns_tokens(client):
    response = await client.post(
        "/api/auth/register",
        json={"username": "ivan.petrov", "password": PASSWORD, "email": "ivan@example.com"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "User created successfully"
    assert body["user"]["username"] == "ivan.petrov"
    assert body["user"]["email"] == "ivan@example.com"
    assert body["user"]["is_staff"] is False
    assert "password" not in str(body["user"])
    assert "hash" not in str(body["user"])
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"]
    assert body["refresh_token"]


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/register/"])
async def test_register_answers_with_and_without_trailing_slash(client, path):
    response = await client.post(path, json={"username": "maria", "password": PASSWORD})

    assert response.status_code == 201


async def test_duplicate_username_is_a_conflict(client):
    await register(client, "ivan")

    response = await client.post(
        "/api/auth/register", json={"username": "ivan", "password": "another-password"}
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("ivan", "short1", "too short"),
        ("ivan", "1234567890", "entirely numeric"),
        ("ivan-the-great", "ivan-the-great", "same as username"),
        ("ivan", "x" * 129, "too long"),
        ("iv", PASSWORD, "username too short"),
        ("ivan petrov", PASSWORD, "space in username"),
        ("ivan/petrov", PASSWORD, "slash in username"),
        ("i" * 151, PASSWORD, "username too long"),
    ],
)
async def test_weak_password_or_bad_username_is_rejected(client, username, password, reason):
    response = await client.post(
        "/api/auth/register", json={"username": username, "password": password}
    )

    assert response.status_code == 422, reason
    body = response.json()
    assert body["status"] == 422
    assert body["errors"]
    assert all({"loc", "msg", "type"} == set(error) for error in body["errors"])
    assert password not in response.text


async def test_unicode_letters_are_allowed_in_usernames(client):
    response = await client.post(
        "/api/auth/register", json={"username": "Иван_Петров", "password": PASSWORD}
    )

    assert response.status_code == 201


async def test_register_rejects_a_malformed_email(client):
    response = await client.post(
        "/api/auth/register",
        json={"username": "ivan", "password": PASSWORD, "email": "not-an-email"},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "email"]


async def test_login_returns_a_token_pair(client):
    await register(client, "ivan")

    response = await client.post("/api/auth/login", json={"username": "ivan", "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    me = await client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["username"] == "ivan"


async def test_oauth2_password_form_logs_in(client):
    await register(client, "ivan")

    response = await client.post(
        "/api/auth/token/", data={"username": "ivan", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


async def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    await register(client, "ivan")

    wrong_password = await client.post(
        "/api/auth/login", json={"username": "ivan", "password": "not-the-password"}
    )
    unknown_user = await client.post(
        "/api/auth/login", json={"username": "nobody", "password": "not-the-password"}
    )

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.headers["www-authenticate"] == "Bearer"
    assert unknown_user.headers["www-authenticate"] == "Bearer"


async def test_oauth2_form_with_bad_credentials_is_401(client):
    response = await client.post(
        "/api/auth/token", data={"username": "nobody", "password": "whatever-it-is"}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_me_returns_the_current_user(client):
    tokens = await register(client, "ivan")

    response = await client.get("/api/auth/me/", headers=bearer(str(tokens["access_token"])))

    assert response.status_code == 200
    assert response.json()["username"] == "ivan"
    assert response.json()["id"] == tokens["user"]["id"]  # type: ignore[index]


async def test_me_without_a_token_is_401_with_a_bearer_challenge(client):
    response = await client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
