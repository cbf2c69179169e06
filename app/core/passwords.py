"""Password hashing, behind one module so that pwdlib could be swapped in one file.

pwdlib with Argon2, not passlib: passlib 1.7.4 dates from 2020 and fails outright with
bcrypt 5. Hashing runs in a worker thread so that it never blocks the event loop, and no more
hashes run at once than there are cores: each takes 64 MiB of memory and four lanes of work,
so more at once would only add memory (six queued logins held 470 MiB; bench/README.md), not
speed.
"""

import asyncio
import os
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from pwdlib import PasswordHash

Result = TypeVar("Result")


class PasswordHasher:
    def __init__(self) -> None:
        self._hash = PasswordHash.recommended()
        self._slots = asyncio.Semaphore(os.cpu_count() or 1)

    async def hash(self, password: str) -> str:
        return await self._in_a_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Checks a password; with no hash (unknown user) it spends the same time and fails."""
        if password_hash is None:
            await self._in_a_thread(self._hash.verify, password, self._dummy_hash)
            return False
        return await self._in_a_thread(self._hash.verify, password, password_hash)

    async def _in_a_thread(self, work: Callable[..., Result], *args: str) -> Result:
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hash.hash("timing-equaliser-for-unknown-users")
