"""Ticket tokens: short enough for a QR code any phone reads, signed with Ed25519 so that a
scanner verifies them offline with the public keys of `/api/checkin/keys` alone.

A token is `<kid>.<claims>.<signature>`, each part base64url without padding. The claims are 36
bytes: the registration's id and the event's id (16 bytes each) and the ticket's version (4
bytes, big-endian); the signature (64 bytes) covers the ASCII of `<kid>.<claims>`, as a JWS's
covers its header and payload. 147 characters in all, where a JWT of the same claims is ~290.
The key id is the first 8 bytes of the SHA-256 of the public key, so that it names the key and
nothing else.

The only module that touches the keys: the rest of the service signs and verifies through
`TicketKeys`, and the private key never leaves it.
"""

import asyncio
import base64
import binascii
import hashlib
import logging
import secrets
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.core.config import Settings
from app.core.database import Database, insert_upsert
from app.core.errors import DatabaseUnavailableError
from app.tickets.models import TicketSigningKey

logger = logging.getLogger(__name__)

_CLAIMS = struct.Struct(">16s16sI")
_SEED_BYTES = 32
_GENERATED_KEY_ID = 1


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """Only the canonical encoding: a token's unused trailing bits changed is another token."""
    data = base64.b64decode(
        (text + "=" * (-len(text) % 4)).encode("ascii"), altchars=b"-_", validate=True
    )
    if _encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class TicketClaims:
    registration_id: uuid.UUID
    event_id: uuid.UUID
    version: int


class InvalidTicketToken(Exception):
    """Malformed, signed by no key we publish, or altered."""


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return _encode(hashlib.sha256(_public_bytes(key)).digest()[:8])


class TicketKeys:
    """Signs with the first key; verifies with any of them (the others are kept while tokens
    they signed may still be scanned: rotation)."""

    def __init__(self, seeds: Sequence[bytes]) -> None:
        if not seeds:
            raise ValueError("at least one ticket signing key is needed")
        private = [Ed25519PrivateKey.from_private_bytes(seed) for seed in seeds]
        self._signing = private[0]
        self._signing_kid = key_id(private[0].public_key())
        self._verifying = {key_id(key.public_key()): key.public_key() for key in private}

    def sign(self, claims: TicketClaims) -> str:
        body = _CLAIMS.pack(claims.registration_id.bytes, claims.event_id.bytes, claims.version)
        signed = f"{self._signing_kid}.{_encode(body)}"
        return f"{signed}.{_encode(self._signing.sign(signed.encode('ascii')))}"

    def verify(self, token: str) -> TicketClaims:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] not in self._verifying:
            raise InvalidTicketToken()
        kid, body, signature = parts
        try:
            self._verifying[kid].verify(_decode(signature), f"{kid}.{body}".encode("ascii"))
            registration, event, version = _CLAIMS.unpack(_decode(body))
        except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError, struct.error):
            raise InvalidTicketToken() from None
        return TicketClaims(uuid.UUID(bytes=registration), uuid.UUID(bytes=event), version)

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWK set (RFC 8037: OKP, Ed25519)."""
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _encode(_public_bytes(key)),
                    "kid": kid,
                    "use": "sig",
                    "alg": "EdDSA",
                }
                for kid, key in self._verifying.items()
            ]
        }


class TicketKeyring:
    """The process's ticket keys, read once: TICKET_SIGNING_KEY's, or else the key kept in the
    database — made by whichever process needs it first, so that every replica and restart
    agrees (development and test only: production refuses to start without the setting)."""

    def __init__(self, settings: Settings) -> None:
        self._seeds = settings.ticket_signing_seeds
        self._keys: TicketKeys | None = None
        self._loading = asyncio.Lock()

    async def load_early(self, database: Database) -> None:
        """Reads the keys at start-up, so that no request waits for them; where the database
        cannot say yet (down, or not migrated), the first request that needs them reads them. (On
        SQLite that matters: a request's unit of work holds the one writer's lock, and the
        key's own unit of work would wait for it.)"""
        try:
            await self.keys(database)
        except (DBAPIError, DatabaseUnavailableError):
            logger.warning("ticket keys not read at start-up (is the database up and migrated?)")

    async def keys(self, database: Database) -> TicketKeys:
        """`database`: where the kept key is, when it must be read (in a unit of work of its
        own: a key made in a request that rolled back would be this process's alone)."""
        if self._keys is None:
            async with self._loading:
                if self._keys is None:
                    self._keys = TicketKeys(self._seeds or [await _kept_seed(database)])
        return self._keys


async def _kept_seed(database: Database) -> bytes:
    table = TicketSigningKey.__table__
    async with database.transaction() as work:
        await work.session.execute(
            insert_upsert(database.dialect, table)
            .values(id=_GENERATED_KEY_ID, seed=_encode(secrets.token_bytes(_SEED_BYTES)))
            .on_conflict_do_nothing(index_elements=[table.c.id])
        )
        seed = await work.session.scalar(
            select(TicketSigningKey.seed).where(TicketSigningKey.id == _GENERATED_KEY_ID)
        )
    assert seed is not None
    return _decode(seed)
