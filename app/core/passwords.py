"""Password hashing, behind one module so that pwdlib could be swapped in one file.

pwdlib with Argon2, not passlib: passlib 1.7.4 dates from 2020 and fails outright with
bcrypt 5. Hashing runs in a worker thread so that it never blocks the event loop.
"""

import asyncio
from functools import cached_property

from pwdlib import PasswordHash


class PasswordHasher:
    def __init__(self) -> None:
        self._hash = PasswordHash.recommended()

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Checks a password; with no hash (unknown user) it spends the same time and fails."""
        if password_hash is None:
            await asyncio.to_thread(self._hash.verify, password, self._dummy_hash)
            return False
        return await asyncio.to_thread(self._hash.verify, password, password_hash)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hash.hash("timing-equaliser-for-unknown-users")
