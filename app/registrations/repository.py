import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, joinedload

from app.core.database import dialect_name, is_unique_violation, one_of, rowcount
from app.core.last_write import LastWrite
from app.events.models import Event, free_seats, full_until, registration_is_open
from app.registrations.models import (
    ACTIVE_STATUSES,
    MAX_CODE_RESENDS,
    MAX_FAILED_CONFIRMATIONS,
    Registration,
    RegistrationStatus,
    WaitlistEntry,
    WaitlistStatus,
)

PENDING = RegistrationStatus.PENDING
CONFIRMED = RegistrationStatus.CONFIRMED


def _holding(now: datetime) -> ColumnElement[bool]:
    """Pending with its hold still running."""
    return (Registration.stored_status == PENDING) & (Registration.expires_at > now)


def _active(now: datetime) -> ColumnElement[bool]:
    """Confirmed, or holding: what a visitor has now (a lapsed hold is not)."""
    return or_(Registration.stored_status == CONFIRMED, _holding(now))


def _tickets_of(event_id: uuid.UUID, changed_since: datetime | None) -> list[ColumnElement[bool]]:
    conditions = [Registration.event_id == event_id, Registration.ticket_issued_at.is_not(None)]
    if changed_since is not None:
        conditions.append(Registration.ticket_changed_at > changed_since)
    return conditions


def _confirmable(registration_id: uuid.UUID, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Registration.id == registration_id,
        _holding(now),
        Registration.failed_attempts < MAX_FAILED_CONFIRMATIONS,
    )


REGISTRATIONS = Registration.__table__
# Typed here: a foreign key column's type is known only once its table is.
EVENT_ID = bindparam("event_id", type_=Uuid())
USER_ID = bindparam("user_id", type_=Uuid())
_IS_ACTIVE = one_of(REGISTRATIONS.c.status, ACTIVE_STATUSES)
_ACTIVE_FOR_USER = (
    select(func.count())
    .where(
        REGISTRATIONS.c.event_id == EVENT_ID,
        REGISTRATIONS.c.user_id == USER_ID,
        _IS_ACTIVE,
    )
    .scalar_subquery()
)
_EMAIL_ACTIVE = exists().where(
    REGISTRATIONS.c.event_id == EVENT_ID,
    REGISTRATIONS.c.email_key == bindparam("email_key"),
    _IS_ACTIVE,
)
# What a new registration is inserted with (every column without a default of its own).
NEW_COLUMNS = (
    "id",
    "event_id",
    "user_id",
    "full_name",
    "email",
    "email_key",
    "status",
    "expires_at",
    "code_hash",
    "code_sent_at",
    "codes_resent",
    "failed_attempts",
    "notice_message_id",
    "created_at",
    "link_base",
)
_NEW_VALUES = {
    name: EVENT_ID if name == "event_id" else USER_ID if name == "user_id" else None
    for name in NEW_COLUMNS
}
# Inserted only while the user holds fewer than `limit` active registrations of the event: the
# per-user lock taken by `look_before_registering` makes that count exact.
INSERT_WITHIN_LIMIT = insert(REGISTRATIONS).from_select(
    NEW_COLUMNS,
    select(
        *(
            value if value is not None else bindparam(name, type_=REGISTRATIONS.c[name].type)
            for name, value in _NEW_VALUES.items()
        )
    ).where(bindparam("limit") > _ACTIVE_FOR_USER),
)


@dataclass(frozen=True, slots=True)
class EventAsSeen:
    """An event as a registration sees it before taking a seat (read without its lock)."""

    name: str
    provider_status: str
    registration_deadline: datetime | None
    capacity: int | None
    registrations_count: int
    waitlist_count: int
    next_hold_expiry: datetime | None
    email_is_active: bool
    active_for_user: int

    def registration_is_open(self, now: datetime) -> bool:
        return registration_is_open(self.provider_status, self.registration_deadline, now)

    def is_surely_full(self, now: datetime) -> bool:
        """No seat for a direct registration, and no hold can have lapsed to free one."""
        if self.next_hold_expiry is not None and self.next_hold_expiry <= now:
            return False
        return free_seats(self.capacity, self.registrations_count) == 0

    def full_until(self) -> datetime | None:
        return full_until(self.next_hold_expiry, self.registration_deadline)

    def nobody_waits(self) -> bool:
        """Then a seat may be taken without settling the event first."""
        return self.waitlist_count == 0


@cache
def _look_before_registering(dialect: str) -> Select[*tuple[Any, ...]]:
    """The event's registration fields, whether the email holds one of its seats, and how many
    the user holds — and, on PostgreSQL, this user's lock on registering for this event, held
    until the unit of work ends (so that the user's concurrent requests are counted one after
    the other by INSERT_WITHIN_LIMIT; on SQLite the transaction holds the database already)."""
    lock = (
        func.pg_advisory_xact_lock(bindparam("lock_key"))
        if dialect == "postgresql"
        else literal(None)
    )
    events = Event.__table__.c  # Core columns: the ORM's compile step bought nothing here
    return select(
        events.name,
        events.provider_status,
        events.registration_deadline,
        events.capacity,
        events.registrations_count,
        events.waitlist_count,
        events.next_hold_expiry,
        _EMAIL_ACTIVE,
        _ACTIVE_FOR_USER,
        lock,
    ).where(events.id == EVENT_ID)


def _user_lock_key(event_id: uuid.UUID, user_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(event_id.bytes + user_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class DuplicateActiveEmailError(Exception):
    """A concurrent registration of the same email for the event committed first."""


class RegistrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def look_before_registering(
        self, event_id: uuid.UUID, user_id: uuid.UUID, email_key: str
    ) -> EventAsSeen | None:
        """The event as `EventAsSeen`, None if unknown; takes the user's lock (see above)."""
        statement = _look_before_registering(dialect_name(self.session))
        values = {
            "event_id": event_id,
            "user_id": user_id,
            "email_key": email_key,
            "lock_key": _user_lock_key(event_id, user_id),
        }
        row = (await self.session.execute(statement, values)).first()
        return None if row is None else EventAsSeen(*row[:-1])

    @staticmethod
    def new_within_limit(registration: Registration, limit: int) -> LastWrite:
        """The write of the new registration, unless the user holds `limit` active ones of the
        event. The ORM's unit of work is skipped: on the hot path it cost more than the
        statement."""
        values: dict[str, Any] = {
            name: getattr(registration, "stored_status" if name == "status" else name)
            for name in NEW_COLUMNS
        }
        return LastWrite(INSERT_WITHIN_LIMIT, {**values, "limit": limit})

    async def add_within_limit(self, registration: LastWrite) -> bool:
        """Makes the write of `new_within_limit`: False when the user holds the limit; raises
        DuplicateActiveEmailError when the email holds one (the unique index says so, once a
        concurrent registration has committed)."""
        try:
            result = await self.session.execute(registration.statement, registration.values)
        except IntegrityError as error:
            if is_unique_violation(error):
                raise DuplicateActiveEmailError() from error
            raise
        return rowcount(result) == 1

    async def add(self, registration: Registration) -> None:
        """Flushes at once: the unique index on active emails fails here, not at commit."""
        self.session.add(registration)
        await self.session.flush()

    async def refresh(self, registration: Registration) -> None:
        """Writes the registration's pending changes, then reads it back as stored."""
        await self.session.flush()
        await self.session.refresh(registration)

    async def get_for_user(
        self, registration_id: uuid.UUID, user_id: uuid.UUID
    ) -> Registration | None:
        return await self.session.scalar(
            select(Registration).where(
                Registration.id == registration_id, Registration.user_id == user_id
            )
        )

    async def count_active(self, now: datetime) -> int:
        """Registrations of every event that hold a seat now (confirmed, or a running hold)."""
        count = select(func.count()).select_from(Registration).where(_active(now))
        return await self.session.scalar(count) or 0

    async def email_is_active(self, event_id: uuid.UUID, email_key: str) -> bool:
        found = await self.session.scalar(
            select(Registration.id).where(
                Registration.event_id == event_id,
                Registration.email_key == email_key,
                Registration.stored_status.in_(ACTIVE_STATUSES),
            )
        )
        return found is not None

    async def count_active_for_user(self, event_id: uuid.UUID, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                Registration.event_id == event_id,
                Registration.user_id == user_id,
                Registration.stored_status.in_(ACTIVE_STATUSES),
            )
        )
        return count or 0

    async def count_for_user(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Registration).where(Registration.user_id == user_id)
        )
        return count or 0

    async def page_for_user(
        self, user_id: uuid.UUID, *, offset: int, limit: int
    ) -> Sequence[Registration]:
        rows = await self.session.scalars(
            select(Registration)
            .where(Registration.user_id == user_id)
            .order_by(Registration.created_at.desc(), Registration.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all()

    async def count_failed_attempt(self, registration_id: uuid.UUID, now: datetime) -> bool:
        """Counts a wrong code; False when the registration was locked, confirmed, cancelled or
        expired meanwhile."""
        return await self._update_one(
            _confirmable(registration_id, now),
            failed_attempts=Registration.failed_attempts + 1,
        )

    async def confirm(self, registration_id: uuid.UUID, now: datetime, link_base: str) -> bool:
        """Confirms a holding registration that is not locked, issuing its ticket; False
        otherwise. `link_base` is where later notices' links point to (when PUBLIC_BASE_URL
        is not set)."""
        return await self._update_one(
            _confirmable(registration_id, now),
            stored_status=CONFIRMED,
            confirmed_at=now,
            expires_at=None,
            ticket_issued_at=now,
            ticket_changed_at=now,
            link_base=link_base,
        )

    async def cancel(self, registration_id: uuid.UUID, now: datetime) -> bool:
        """Cancels an active registration; False when it was not active any more."""
        return await self._update_one(
            (Registration.id == registration_id, _active(now)),
            stored_status=RegistrationStatus.CANCELLED,
            cancelled_at=now,
            expires_at=None,
            ticket_changed_at=now,  # a ticket it had is revoked
        )

    async def replace_code(
        self,
        registration_id: uuid.UUID,
        code_hash: str,
        now: datetime,
        *,
        last_code_before: datetime,
        notice_id: uuid.UUID,
    ) -> bool:
        """Puts a new code in place of the old one, if the registration still holds its seat
        unlocked, had fewer than the most resends, and its last code went out before
        `last_code_before`; False otherwise (a concurrent resend won)."""
        return await self._update_one(
            (
                *_confirmable(registration_id, now),
                Registration.codes_resent < MAX_CODE_RESENDS,
                Registration.code_sent_at <= last_code_before,
            ),
            code_hash=code_hash,
            code_sent_at=now,
            codes_resent=Registration.codes_resent + 1,
            notice_message_id=notice_id,
        )

    async def set_notice(self, registration_id: uuid.UUID, message_id: uuid.UUID) -> None:
        await self._update_one((Registration.id == registration_id,), notice_message_id=message_id)

    async def expire_lapsed(self, event_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
        """Records the event's holds whose time has passed as expired; returns their ids."""
        result = await self.session.execute(
            update(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.stored_status == PENDING,
                Registration.expires_at <= now,
            )
            .values(stored_status=RegistrationStatus.EXPIRED)
            .returning(Registration.id)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars())

    async def next_hold_expiry(self, event_id: uuid.UUID) -> datetime | None:
        return await self.session.scalar(
            select(func.min(Registration.expires_at)).where(
                Registration.event_id == event_id, Registration.stored_status == PENDING
            )
        )

    async def cancel_all_active(self, event_id: uuid.UUID, now: datetime) -> list[Registration]:
        """Cancels the event's active registrations; returns them."""
        result = await self.session.scalars(
            update(Registration)
            .where(Registration.event_id == event_id, _active(now))
            .values(
                stored_status=RegistrationStatus.CANCELLED,
                cancelled_at=now,
                expires_at=None,
                ticket_changed_at=now,
            )
            .returning(Registration)
            .execution_options(populate_existing=True)
        )
        return list(result)

    async def active_for_event(self, event_id: uuid.UUID, now: datetime) -> list[Registration]:
        rows = await self.session.scalars(
            select(Registration).where(Registration.event_id == event_id, _active(now))
        )
        return list(rows)

    # -- a visitor's own data (SPEC §4.7)

    async def of_user(self, user_id: uuid.UUID) -> list[tuple[Registration, str]]:
        """Every registration of the user, oldest first, with its event's name."""
        rows = await self.session.execute(
            select(Registration, Event.name)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.user_id == user_id)
            .order_by(Registration.created_at, Registration.id)
        )
        return [(registration, name) for registration, name in rows]

    async def erase_visitor(
        self, user_id: uuid.UUID, full_name: str, email: str, now: datetime
    ) -> None:
        """Puts the placeholders in place of the name and email of every registration of the
        user (each its own `email_key`, so that the unique index on active emails never sees
        two alike); a ticket's `ticket_changed_at` moves, so that offline scanners learn it."""
        await self.session.execute(
            update(Registration)
            .where(Registration.user_id == user_id)
            .values(
                full_name=full_name,
                email=email,
                email_key=_erased_key(Registration.id),
                ticket_changed_at=case(
                    (Registration.ticket_issued_at.is_not(None), now),
                    else_=Registration.ticket_changed_at,
                ),
            )
            .execution_options(synchronize_session=False)
        )

    # -- tickets (SPEC §4.6)

    async def get(self, registration_id: uuid.UUID) -> Registration | None:
        """The registration as stored now (read afresh)."""
        return await self.session.get(Registration, registration_id, populate_existing=True)

    async def reissue(self, registration_id: uuid.UUID, now: datetime) -> bool:
        """A new version of a confirmed registration's ticket: older tokens are revoked."""
        return await self._update_one(
            (Registration.id == registration_id, Registration.stored_status == CONFIRMED),
            ticket_version=Registration.ticket_version + 1,
            ticket_issued_at=now,
            ticket_changed_at=now,
        )

    async def check_in(
        self,
        registration_id: uuid.UUID,
        event_id: uuid.UUID,
        version: int,
        at: datetime,
        now: datetime,
    ) -> Registration | None:
        """Checks the ticket in at `at`, if that version of the event's ticket is valid and not
        checked in yet; returns the registration so checked in, else None. On PostgreSQL a
        concurrent scan of the same ticket waits on the row and then finds it checked in: one
        check-in, however many replicas scan at once."""
        checked_in = await self.session.scalars(
            update(Registration)
            .where(
                Registration.id == registration_id,
                Registration.event_id == event_id,
                Registration.stored_status == CONFIRMED,
                Registration.ticket_version == version,
                Registration.checked_in_at.is_(None),
            )
            .values(checked_in_at=at, ticket_changed_at=now)
            .returning(Registration)
            .execution_options(populate_existing=True)
        )
        return checked_in.one_or_none()

    async def count_tickets(self, event_id: uuid.UUID, changed_since: datetime | None) -> int:
        count = await self.session.scalar(
            select(func.count()).where(*_tickets_of(event_id, changed_since))
        )
        return count or 0

    async def page_tickets(
        self, event_id: uuid.UUID, changed_since: datetime | None, *, offset: int, limit: int
    ) -> Sequence[Registration]:
        """Oldest change first, so that the last one of the last page is the next
        `changed_since`."""
        rows = await self.session.scalars(
            select(Registration)
            .where(*_tickets_of(event_id, changed_since))
            .order_by(Registration.ticket_changed_at, Registration.id)
            .offset(offset)
            .limit(limit)
        )
        return rows.all()

    async def confirmed_before(self, event_id: uuid.UUID, before: datetime) -> list[Registration]:
        rows = await self.session.scalars(
            select(Registration).where(
                Registration.event_id == event_id,
                Registration.stored_status == CONFIRMED,
                Registration.confirmed_at < before,
            )
        )
        return list(rows)

    async def _update_one(
        self, conditions: Sequence[ColumnElement[bool]], **values: object
    ) -> bool:
        result = await self.session.execute(
            update(Registration)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1


WAITING = WaitlistStatus.WAITING
_WITH_STATUS_INPUTS = (joinedload(WaitlistEntry.event), joinedload(WaitlistEntry.registration))


def _erased_key(row_id: QueryableAttribute[uuid.UUID]) -> ColumnElement[str]:
    """An erased row's `email_key`: its own id, which no real address equals."""
    return literal("erased:", String) + cast(row_id, String)


class WaitlistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: uuid.UUID) -> Sequence[WaitlistEntry]:
        """Every waiting entry of the user, oldest first (with what its status needs)."""
        rows = await self.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.user_id == user_id)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .options(*_WITH_STATUS_INPUTS)
        )
        return rows.all()

    async def erase_visitor(self, user_id: uuid.UUID, full_name: str, email: str) -> None:
        """The placeholders in place of the name and email of every entry of the user."""
        await self.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.user_id == user_id)
            .values(full_name=full_name, email=email, email_key=_erased_key(WaitlistEntry.id))
            .execution_options(synchronize_session=False)
        )

    async def add(self, entry: WaitlistEntry) -> None:
        """Flushes at once: the unique index on waiting emails fails here, not at commit."""
        self.session.add(entry)
        await self.session.flush()

    async def refresh(self, entry: WaitlistEntry) -> None:
        await self.session.flush()
        await self.session.refresh(entry, ["stored_status", "ended_at"])

    async def get_for_user(self, entry_id: uuid.UUID, user_id: uuid.UUID) -> WaitlistEntry | None:
        return await self.session.scalar(
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.user_id == user_id)
            .options(*_WITH_STATUS_INPUTS)
        )

    async def count_for_user(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).where(WaitlistEntry.user_id == user_id)
        )
        return count or 0

    async def page_for_user(
        self, user_id: uuid.UUID, *, offset: int, limit: int
    ) -> Sequence[WaitlistEntry]:
        rows = await self.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.user_id == user_id)
            .order_by(WaitlistEntry.created_at.desc(), WaitlistEntry.id.desc())
            .offset(offset)
            .limit(limit)
            .options(*_WITH_STATUS_INPUTS)
        )
        return rows.all()

    async def email_is_waiting(self, event_id: uuid.UUID, email_key: str) -> bool:
        found = await self.session.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.event_id == event_id,
                WaitlistEntry.email_key == email_key,
                WaitlistEntry.stored_status == WAITING,
            )
        )
        return found is not None

    async def count_waiting_for_user(self, event_id: uuid.UUID, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                WaitlistEntry.event_id == event_id,
                WaitlistEntry.user_id == user_id,
                WaitlistEntry.stored_status == WAITING,
            )
        )
        return count or 0

    async def position(self, entry: WaitlistEntry) -> int:
        """The entry's 1-based rank among its event's waiting entries, oldest first."""
        ahead = await self.session.scalar(
            select(func.count()).where(
                WaitlistEntry.event_id == entry.event_id,
                WaitlistEntry.stored_status == WAITING,
                tuple_(WaitlistEntry.created_at, WaitlistEntry.id)
                < tuple_(entry.created_at, entry.id),
            )
        )
        return (ahead or 0) + 1

    async def oldest_waiting(self, event_id: uuid.UUID, limit: int) -> Sequence[WaitlistEntry]:
        rows = await self.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.stored_status == WAITING)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(limit)
        )
        return rows.all()

    async def leave(self, entry_id: uuid.UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.stored_status == WAITING)
            .values(stored_status=WaitlistStatus.LEFT, ended_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def mark_offered(
        self, entry_id: uuid.UUID, registration_id: uuid.UUID, now: datetime
    ) -> None:
        await self.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id)
            .values(
                stored_status=WaitlistStatus.OFFERED,
                registration_id=registration_id,
                offered_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    async def expire_offers(self, registration_ids: Sequence[uuid.UUID], now: datetime) -> int:
        """The offers whose holds lapsed end as expired; returns how many."""
        if not registration_ids:
            return 0
        result = await self.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.registration_id.in_(registration_ids),
                WaitlistEntry.stored_status == WaitlistStatus.OFFERED,
            )
            .values(stored_status=WaitlistStatus.EXPIRED, ended_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) or 0

    async def end_waiting(self, event_id: uuid.UUID, now: datetime) -> list[WaitlistEntry]:
        """The event's waiting entries end as expired; returns them."""
        result = await self.session.scalars(
            update(WaitlistEntry)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.stored_status == WAITING)
            .values(stored_status=WaitlistStatus.EXPIRED, ended_at=now)
            .returning(WaitlistEntry)
            .execution_options(populate_existing=True)
        )
        return list(result)
