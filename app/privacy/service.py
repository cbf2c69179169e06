"""A visitor's own data (SPEC §4.7): everything stored about an account, and its erasure, in
the caller's unit of work. The API's `DELETE /api/auth/me` and the admin site's "erase" action
are the same erasure."""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from app.auth.erased import ErasedUsers
from app.auth.models import RefreshToken, User
from app.auth.repository import RefreshTokenRepository, UserRepository
from app.core.database import UnitOfWork, utcnow
from app.core.passwords import PasswordHasher
from app.idempotency.repository import IdempotencyKeyRepository
from app.outbox.models import OutboxMessage
from app.outbox.repository import OutboxRepository
from app.privacy.errors import WrongPasswordError
from app.registrations.lifecycle import Surroundings
from app.registrations.models import (
    ACTIVE_STATUSES,
    Registration,
    RegistrationStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from app.registrations.service import RegistrationService
from app.tickets.models import CheckinScan
from app.tickets.repository import TicketRepository

# What an erased visitor's registrations and waiting entries show instead of a name and an
# address (a domain that never receives mail: RFC 2606).
ERASED_NAME = "Erased visitor"
ERASED_EMAIL = "erased@erased.invalid"


def erased_username(user_id: uuid.UUID) -> str:
    """An erased account's username: unique, and with a character (`:`) that no registered
    username may have, so that nobody can take it first."""
    return f"erased:{user_id.hex}"


@dataclass(frozen=True, slots=True)
class OwnData:
    """Everything stored about an account."""

    user: User
    registrations: Sequence[tuple[Registration, str]]  # with the event's name
    waiting_entries: Sequence[tuple[WaitlistEntry, int | None]]  # with the position
    notices: Sequence[OutboxMessage]
    scans: Sequence[CheckinScan]
    sessions: Sequence[RefreshToken]
    exported_at: datetime


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did."""

    registrations_cancelled: int
    waiting_entries_left: int
    notices_dropped: int
    notice_texts_deleted: int
    sessions_ended: int


class OwnDataService:
    def __init__(
        self,
        work: UnitOfWork,
        around: Surroundings,
        hasher: PasswordHasher,
        erased: ErasedUsers,
    ) -> None:
        self.work = work
        self.hasher = hasher
        self.erased = erased
        # The visitor's own paths (leaving, cancelling), which an erasure takes as they are.
        self.visitor = RegistrationService(work, around)
        self.registrations = self.visitor.registrations
        self.waitlist = self.visitor.waitlist
        self.users = UserRepository(work.session)
        self.tokens = RefreshTokenRepository(work.session)
        self.outbox = OutboxRepository(work.session)
        self.scans = TicketRepository(work.session)
        self.replays = IdempotencyKeyRepository(work.session)

    async def export(self, user: User) -> OwnData:
        registrations = await self.registrations.of_user(user.id)
        entries = await self.waitlist.of_user(user.id)
        now = utcnow()
        return OwnData(
            user=user,
            registrations=registrations,
            waiting_entries=[
                (entry, await self.visitor.position_of(entry, now)) for entry in entries
            ],
            notices=await self.outbox.for_user(user.id),
            scans=await self.scans.scans_of([registration.id for registration, _ in registrations]),
            sessions=await self.tokens.of_user(user.id),
            exported_at=now,
        )

    async def erase_own(self, user: User, password: str) -> Erasure:
        """The visitor's own erasure, with their password (else WrongPasswordError, before
        anything is written)."""
        if not await self.hasher.verify(password, user.password_hash):
            raise WrongPasswordError()
        erasure = await self.erase(user.id)
        # None: a concurrent request of theirs erased it a moment ago.
        return erasure or Erasure(0, 0, 0, 0, 0)

    async def erase(self, user_id: uuid.UUID) -> Erasure | None:
        """Erases the account; None when it was erased already (or never existed).

        The account row first: on PostgreSQL it stays locked until the commit, so that a
        concurrent erasure of the same account waits and then does nothing. The waiting entries
        are left before the registrations are cancelled, so that no seat freed here is offered
        to the visitor's own entry. Each goes the way the visitor's own leaving and cancelling
        go (the seats to the waiting list, counts kept, tickets revoked), then the notices that
        are not delivered — the cancellations' own among them — are dropped."""
        now = utcnow()
        unknown_password = await self.hasher.hash(secrets.token_urlsafe(32))
        if not await self.users.erase(user_id, erased_username(user_id), unknown_password, now):
            return None
        left = 0
        for entry in await self.waitlist.of_user(user_id):
            if entry.stored_status == WaitlistStatus.WAITING:
                entry, _ = await self.visitor.leave_waitlist(user_id, entry.id)
                left += entry.stored_status == WaitlistStatus.LEFT
        cancelled = 0
        for registration, _ in await self.registrations.of_user(user_id):
            if registration.stored_status in ACTIVE_STATUSES:
                registration = await self.visitor.cancel(user_id, registration.id)
                cancelled += registration.stored_status == RegistrationStatus.CANCELLED
        dropped, forgotten = await self.outbox.forget_user(user_id, now)
        await self.registrations.erase_visitor(user_id, ERASED_NAME, ERASED_EMAIL, now)
        await self.waitlist.erase_visitor(user_id, ERASED_NAME, ERASED_EMAIL)
        await self.replays.delete_for_user(user_id)
        sessions = await self.tokens.revoke_all(user_id, now)
        self.work.after_commit(partial(self.erased.add, user_id, now))
        return Erasure(cancelled, left, dropped, forgotten, sessions)
