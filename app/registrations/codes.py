"""Confirmation codes: six random digits, kept only as a keyed hash bound to the registration
(a 6-digit code has too few values for a plain hash to hide it)."""

import hashlib
import hmac
import secrets
import uuid


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


class CodeHasher:
    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key.encode()

    def hash(self, registration_id: uuid.UUID, code: str) -> str:
        message = f"{registration_id}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def matches(self, registration_id: uuid.UUID, code: str, code_hash: str) -> bool:
        return hmac.compare_digest(code_hash, self.hash(registration_id, code))
