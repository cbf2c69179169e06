"""Access and refresh tokens: forgery, expiry, type confusion, rotation, reuse, logout."""

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.conftest import TEST_SECRET
from tests.support.auth import bearer, register


def forge(secret: str = TEST_SECRET, algorithm: str = "HS256", **claims: object) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(uuid.uuid4()),
        "type": "access",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "events-face",
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=algorithm)


def unsigned(token: str) -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = token.split(".")[1]
    return f"{header.decode().rstrip('=')}.{payload}."


async def assert_rejected(client, token: str) -> None:
    response = await client.get("/api/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_forged_token_for_a_real_user_works_only_with_our_key(client):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]

    good = await client.get("/api/auth/me", headers=bearer(forge(sub=user_id)))

    assert good.status_code == 200
    await assert_rejected(client, forge(secret="another-key-another-key-another-key", sub=user_id))


async def test_expired_access_token_is_401(client):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]
    past = datetime.now(UTC) - timedelta(hours=1)

    await assert_rejected(client, forge(sub=user_id, iat=past, exp=past + timedelta(minutes=15)))


async def test_a_token_accepted_before_is_refused_once_it_expires(client):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]
    now = datetime.now(UTC)
    expiry = now + timedelta(seconds=2)  # at least a second, once JWT rounds it down
    token = forge(sub=user_id, iat=now, exp=expiry)

    accepted = await client.get("/api/auth/me", headers=bearer(token))
    await asyncio.sleep(max((expiry - datetime.now(UTC)).total_seconds(), 0) + 0.1)

    assert accepted.status_code == 200
    await assert_rejected(client, token)  # verified tokens are remembered only until they expire


async def test_alg_none_token_is_401(client):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]

    await assert_rejected(client, unsigned(forge(sub=user_id)))


async def test_tampered_payload_is_401(client):
    tokens = await register(client)
    header, _, signature = str(tokens["access_token"]).split(".")
    other = base64.urlsafe_b64encode(
        json.dumps({"sub": str(uuid.uuid4()), "type": "access"}).encode()
    )

    await assert_rejected(client, f"{header}.{other.decode().rstrip('=')}.{signature}")


@pytest.mark.parametrize("missing", ["sub", "type", "jti", "exp", "iss"])
async def test_a_token_missing_a_required_claim_is_401(client, missing):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]
    token = forge(sub=user_id)
    payload = jwt.decode(token, TEST_SECRET, algorithms=["HS256"], issuer="events-face")
    del payload[missing]

    await assert_rejected(client, jwt.encode(payload, TEST_SECRET, algorithm="HS256"))


async def test_a_token_of_another_issuer_or_with_a_segment_more_is_401(client):
    user_id = (await register(client))["user"]["id"]  # type: ignore[index]
    ours = forge(sub=user_id)

    await assert_rejected(client, forge(sub=user_id, iss="another-service"))
    await assert_rejected(client, f"{ours}.{ours.split('.')[-1]}")
    await assert_rejected(client, forge(sub=user_id, exp=10**18))  # no such time


async def test_garbage_token_is_401(client):
    await assert_rejected(client, "not-a-jwt")


async def test_refresh_token_is_refused_as_an_access_token(client):
    tokens = await register(client)

    await assert_rejected(client, str(tokens["refresh_token"]))


async def test_access_token_is_refused_as_a_refresh_token(client):
    tokens = await register(client)

    response = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": tokens["access_token"]}
    )

    assert response.status_code == 401


async def test_refresh_rotates_the_pair_and_the_old_refresh_token_then_fails(client):
    tokens = await register(client)

    rotated = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert (await client.get("/api/auth/me", headers=bearer(new["access_token"]))).is_success

    replay = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 401


async def test_refresh_accepts_the_old_field_name(client):
    tokens = await register(client)

    response = await client.post(
        "/api/auth/token/refresh/", json={"refresh": tokens["refresh_token"]}
    )

    assert response.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client):
    first = await register(client)
    second = (
        await client.post("/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()

    reuse = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]}
    )
    newest = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": second["refresh_token"]}
    )

    assert reuse.status_code == 401
    assert newest.status_code == 401


async def test_reuse_in_one_family_leaves_other_sessions_alone(client):
    first = await register(client, "ivan")
    other_session = (
        await client.post(
            "/api/auth/login", json={"username": "ivan", "password": "correct-horse-battery"}
        )
    ).json()
    await client.post("/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    await client.post("/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]})

    response = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": other_session["refresh_token"]}
    )

    assert response.status_code == 200


async def test_logout_revokes_the_refresh_token_family(client):
    first = await register(client)
    second = (
        await client.post("/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()

    logout = await client.post(
        "/api/auth/logout",
        json={"refresh_token": second["refresh_token"]},
        headers=bearer(second["access_token"]),
    )
    refresh = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": second["refresh_token"]}
    )

    assert logout.status_code == 200
    assert logout.json() == {"message": "Successfully logged out"}
    assert refresh.status_code == 401


async def test_logout_requires_an_access_token(client):
    tokens = await register(client)

    response = await client.post("/api/auth/logout", json={"refresh": tokens["refresh_token"]})

    assert response.status_code == 401


async def test_logout_with_another_users_refresh_token_is_refused(client):
    ivan = await register(client, "ivan")
    maria = await register(client, "maria")

    response = await client.post(
        "/api/auth/logout",
        json={"refresh_token": maria["refresh_token"]},
        headers=bearer(str(ivan["access_token"])),
    )
    maria_refresh = await client.post(
        "/api/auth/token/refresh", json={"refresh_token": maria["refresh_token"]}
    )

    assert response.status_code == 401
    assert maria_refresh.status_code == 200
