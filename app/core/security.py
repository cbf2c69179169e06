"""JSON Web Tokens, behind one module so that PyJWT could be swapped in one file.

PyJWT, not python-jose: PyJWT is maintained and is what FastAPI's docs use, while
python-jose lets `decode()` run without an algorithm list and depends on `ecdsa`, which has an
unfixed CVE. PyJWT mints the tokens; they are verified here (below, `_verify`).
"""

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
import orjson
from cachetools import LRUCache

from app.core.database import utcnow

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "type", "jti", "iat", "exp", "iss"]
# The header of every token PyJWT mints here, as it encodes it: the only one accepted, so that
# no other algorithm (none, RS256 with our key as a public one) is ever considered.
HEADER = jwt.encode({}, "k" * 32, algorithm=ALGORITHM).partition(".")[0]


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or of the wrong type."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    type: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime


# Access tokens verified lately, by token: a client sends the same token with every request for
# a quarter of an hour, and verifying it again (base64, JSON, HMAC, claims) was an eighth of a
# cached page's cost (bench/README.md). Only tokens that verified are kept, and each only until
# it expires, so that nothing is accepted that a fresh verification would refuse.
VERIFIED_TOKENS = 4096  # a couple of MiB at most


class TokenCodec:
    def __init__(self, secret_key: str, issuer: str) -> None:
        self._key = secret_key.encode()
        self._issuer = issuer
        self._verified: LRUCache[str, TokenClaims] = LRUCache(maxsize=VERIFIED_TOKENS)

    def encode(
        self, subject: str, token_type: TokenType, ttl_seconds: int
    ) -> tuple[str, TokenClaims]:
        issued_at = utcnow().replace(microsecond=0)
        claims = TokenClaims(
            subject=subject,
            type=token_type,
            jti=uuid.uuid4().hex,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(seconds=ttl_seconds),
        )
        payload = {
            "sub": claims.subject,
            "type": claims.type.value,
            "jti": claims.jti,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "iss": self._issuer,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is None or claims.expires_at <= utcnow():
            claims = self._verify(token)
            self._verified[token] = claims
        if claims.type is not expected_type:
            raise InvalidTokenError(f"expected an {expected_type.value} token")
        return claims

    def _verify(self, token: str) -> TokenClaims:
        """Our header, our HMAC, our issuer, not expired. Done here rather than by PyJWT's
        `decode`, which checks each base64 character in Python: 120 µs a token, a quarter of
        a full event's 409 when sales open and every visitor's token is new (bench/README.md).
        Only the signed part is decoded, and only once the signature matched."""
        segments = token.split(".")
        if len(segments) != 3 or segments[0] != HEADER:
            raise InvalidTokenError("not a token of ours")
        header, body, signature = segments
        expected = hmac.digest(self._key, f"{header}.{body}".encode(), hashlib.sha256)
        if not hmac.compare_digest(signature.encode(), _base64url(expected)):
            raise InvalidTokenError("bad signature")
        try:
            payload = orjson.loads(base64.urlsafe_b64decode(_padded(body)))
            return self._claims(payload)
        except (TypeError, ValueError, OverflowError, OSError) as error:  # binascii's: ValueError
            raise InvalidTokenError("malformed claims") from error

    def _claims(self, payload: dict[str, Any]) -> TokenClaims:
        if not all(claim in payload for claim in REQUIRED_CLAIMS):
            raise InvalidTokenError("a required claim is missing")
        if payload["iss"] != self._issuer:
            raise InvalidTokenError("another issuer")
        issued_at, expires_at = payload["iat"], payload["exp"]
        if not isinstance(issued_at, int) or not isinstance(expires_at, int):
            raise InvalidTokenError("times are not numbers")
        claims = TokenClaims(
            subject=str(payload["sub"]),
            type=TokenType(payload["type"]),
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(issued_at, tz=UTC),
            expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
        )
        if claims.expires_at <= utcnow():
            raise InvalidTokenError("expired")
        return claims


def _base64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _padded(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)
