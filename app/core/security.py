"""JSON Web Tokens, behind one module so that PyJWT could be swapped in one file.

PyJWT, not python-jose: PyJWT is maintained and is what FastAPI's docs use, while
python-jose lets `decode()` run without an algorithm list and depends on `ecdsa`, which has an
unfixed CVE. Every decode here pins HS256.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from cachetools import LRUCache

from app.core.database import utcnow

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "type", "jti", "iat", "exp", "iss"]


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
        self._key = secret_key
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
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from None
        try:
            return TokenClaims(
                subject=str(payload["sub"]),
                type=TokenType(payload["type"]),
                jti=str(payload["jti"]),
                issued_at=datetime.fromtimestamp(payload["iat"], tz=UTC),
                expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
            )
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidTokenError("malformed claims") from error
