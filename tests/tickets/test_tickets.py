"""Tickets (SPEC §4.6): only a confirmed registration has one; its token is short, signed with
Ed25519, verifiable with the published keys alone, and refused once revoked."""

import asyncio
import base64
import uuid

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.core.config import ConfigurationError, load_settings
from app.tickets.signing import TicketClaims, TicketKeys
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.door import confirmed, door_staff, scan
from tests.support.events import event_with_seats
from tests.support.processes import child_environment, run_cli
from tests.support.visitors import relaying_app, sign_in, visitor

QR_MAX_CHARACTERS = 200


def b64decode(text: str) -> bytes:
    """Strict base64url, as a scanner must read it: a token whose unused trailing bits differ is
    another token."""
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise ValueError("not canonical")
    return data


def verify_offline(jwks: dict, token: str) -> tuple[uuid.UUID, uuid.UUID, int]:
    """What a scanner does with the published keys alone: find the key by `kid`, check the
    signature over `<kid>.<claims>`, read the claims."""
    kid, claims, signature = token.split(".")
    [key] = [key for key in jwks["keys"] if key["kid"] == kid]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public = Ed25519PublicKey.from_public_bytes(b64decode(key["x"]))
    public.verify(b64decode(signature), f"{kid}.{claims}".encode())
    raw = b64decode(claims)
    return uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:32]), int.from_bytes(raw[32:], "big")


async def test_a_confirmed_registration_has_a_ticket_verifiable_with_the_published_key(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        pending = (await ivan.register(event.id, visitor("pending"))).json()
        registration = await confirmed(ivan, notifications, event.id, "ivan")

        not_yet = await ivan.get(f"/api/registrations/{pending['id']}/ticket")
        ticket = await ivan.get(f"/api/registrations/{registration['id']}/ticket")
        svg = await ivan.get(f"/api/registrations/{registration['id']}/ticket.svg")
        png = await ivan.get(f"/api/registrations/{registration['id']}/ticket.png")
        other = await ivan.get(f"/api/registrations/{registration['id']}/ticket.gif")
        jwks = await http.get("/api/checkin/keys")
        maria = await sign_in(http)
        not_hers = await maria.get(f"/api/registrations/{registration['id']}/ticket")
        again = await ivan.get(f"/api/registrations/{registration['id']}/ticket")

    assert not_yet.status_code == 409
    assert not_yet.json()["type"].endswith("/registration-not-confirmed")
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    assert body["registration_id"] == registration["id"]
    assert body["full_name"] == visitor("ivan")["full_name"]
    assert body["event"]["id"] == str(event.id)
    assert body["event"]["name"] == event.name
    assert body["event"]["venue"]["name"] == "Екатеринбург Арена"
    assert body["issued_at"] == registration["confirmed_at"]
    assert "email" not in body
    token = body["token"]
    assert len(token) <= QR_MAX_CHARACTERS
    assert verify_offline(jwks.json(), token) == (uuid.UUID(registration["id"]), event.id, 1)
    assert again.json()["token"] == token  # the same ticket until it is reissued
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert other.status_code == 422
    assert not_hers.status_code == 404


async def test_a_token_changed_in_any_one_character_or_signed_by_another_key_is_refused(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        registration = await confirmed(ivan, notifications, event.id)
        token = (await ivan.get(f"/api/registrations/{registration['id']}/ticket")).json()["token"]
        jwks = (await http.get("/api/checkin/keys")).json()
        claims = TicketClaims(uuid.UUID(registration["id"]), event.id, 1)
        forged = TicketKeys([bytes(range(32))]).sign(claims)
        altered = [
            token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
            for at in range(len(token))
            if token[at] != "."
        ]

        answers = await asyncio.gather(
            *(door.post("/api/checkin", scan(event.id, bad)) for bad in [forged, *altered])
        )
        garbage = await door.post("/api/checkin", scan(event.id, "not a ticket"))

    for bad in altered:
        with pytest.raises((InvalidSignature, ValueError)):
            verify_offline(jwks, bad)
    assert {answer.status_code for answer in answers} == {400}
    assert {answer.json()["type"] for answer in answers} == {"/problems/invalid-ticket"}
    assert garbage.status_code == 400
    assert garbage.json()["full_name"] is None


async def test_reissue_cancel_and_expiry_revoke_a_ticket(database_url, notifications):
    async with relaying_app(database_url, notifications, registration_hold_seconds=1) as (
        app,
        http,
    ):
        ivan = await sign_in(http)
        door = await door_staff(http, database_of(app))
        event = await event_with_seats(database_of(app), 5)
        kept = await confirmed(ivan, notifications, event.id, "kept")
        cancelled = await confirmed(ivan, notifications, event.id, "cancelled")
        expiring = (await ivan.register(event.id, visitor("expiring"))).json()
        url = f"/api/registrations/{kept['id']}/ticket"
        old = (await ivan.get(url)).json()["token"]
        reissued = await ivan.post(f"{url}/reissue")
        cancelled_token = (await ivan.get(f"/api/registrations/{cancelled['id']}/ticket")).json()[
            "token"
        ]
        await ivan.delete(f"/api/registrations/{cancelled['id']}")
        await asyncio.sleep(1.1)  # the hold of `expiring` lapses

        old_scan = await door.post("/api/checkin", scan(event.id, old))
        cancelled_scan = await door.post("/api/checkin", scan(event.id, cancelled_token))
        cancelled_ticket = await ivan.get(f"/api/registrations/{cancelled['id']}/ticket")
        expired_ticket = await ivan.get(f"/api/registrations/{expiring['id']}/ticket")
        new_scan = await door.post("/api/checkin", scan(event.id, reissued.json()["token"]))

    assert reissued.status_code == 200
    assert reissued.json()["token"] != old
    assert reissued.json()["issued_at"] > kept["confirmed_at"]
    assert old_scan.status_code == 409
    assert old_scan.json()["type"] == "/problems/revoked-ticket"
    assert cancelled_scan.json()["type"] == "/problems/revoked-ticket"
    assert cancelled_ticket.status_code == 409
    assert cancelled_ticket.json()["type"] == "/problems/registration-cancelled"
    assert expired_ticket.status_code == 409
    assert expired_ticket.json()["type"] == "/problems/registration-expired"
    assert new_scan.status_code == 200
    assert new_scan.json()["result"] == "ok"


async def test_every_replica_and_restart_signs_with_the_key_kept_in_the_database(
    database_url, notifications
):
    async with relaying_app(database_url, notifications) as (app, http):
        ivan = await sign_in(http)
        event = await event_with_seats(database_of(app), 5)
        registration = await confirmed(ivan, notifications, event.id)
        first = (await ivan.get(f"/api/registrations/{registration['id']}/ticket")).json()
        keys = (await http.get("/api/checkin/keys")).json()
    # A new process over the same tables: a restart (or another replica).
    async with (
        running_app(make_settings(database_url)) as restarted,
        http_client(restarted) as http,
    ):
        after = (await http.get("/api/checkin/keys")).json()

    assert after == keys
    assert verify_offline(after, first["token"])[0] == uuid.UUID(registration["id"])


async def test_a_configured_key_signs_and_its_predecessors_still_verify(database_url):
    seeds = [base64.urlsafe_b64encode(bytes([n]) * 32).decode().rstrip("=") for n in (1, 2)]
    settings = make_settings(database_url, ticket_signing_key=",".join(seeds))
    async with running_app(settings) as app, http_client(app) as http:
        keys = (await http.get("/api/checkin/keys")).json()["keys"]

    old = TicketKeys([bytes([2]) * 32]).sign(TicketClaims(uuid.uuid4(), uuid.uuid4(), 1))
    assert len(keys) == 2
    assert verify_offline({"keys": keys}, old)


async def test_production_refuses_to_start_without_a_ticket_signing_key(tmp_path):
    env = child_environment(
        ENVIRONMENT="production",
        JWT_SECRET_KEY="x" * 40,
        EVENTS_PROVIDER_URL="https://provider.example.com/",
        NOTIFICATIONS_URL="https://notifications.example.com/",
        TICKET_SIGNING_KEY="",
    )

    code, _, stderr = await run_cli("serve", "--port", "0", env=env, cwd=tmp_path)

    assert code == 1
    assert "TICKET_SIGNING_KEY" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_ticket_signing_key_that_is_no_seed_is_refused():
    with pytest.raises(ConfigurationError, match="TICKET_SIGNING_KEY"):
        load_settings(environment="test", jwt_secret_key="x" * 40, ticket_signing_key="short")
