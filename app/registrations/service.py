"""The registration rules a visitor meets (SPEC §4.3, §4.5): registering, confirming with the
emailed code, asking for a new code, cancelling; joining and leaving the waiting list. What
happens with time and upstream is in lifecycle.py, whose seat rules the service extends."""

import logging
import math
import uuid
from datetime import datetime, timedelta
from functools import partial

from app.core.database import utcnow
from app.core.last_write import LastWrite
from app.core.pagination import Found, PageRequest
from app.events.errors import EventNotFoundError
from app.events.models import Event
from app.events.version import FullEvents
from app.outbox.models import OutboxStatus
from app.registrations.errors import (
    AlreadyRegisteredError,
    AlreadyWaitingError,
    EventFullError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationConfirmedError,
    RegistrationExpiredError,
    RegistrationLimitReachedError,
    RegistrationLockedError,
    RegistrationNotFoundError,
    ResendLimitReachedError,
    ResendTooSoonError,
    SeatsAvailableError,
    WaitlistEntryNotFoundError,
    WaitlistLimitReachedError,
    WrongCodeError,
)
from app.registrations.lifecycle import Lifecycle
from app.registrations.models import (
    MAX_CODE_RESENDS,
    Registration,
    RegistrationStatus,
    WaitlistEntry,
    WaitlistStatus,
    email_key,
)
from app.registrations.repository import (
    DuplicateActiveEmailError,
    EventAsSeen,
    RegistrationRepository,
)
from app.registrations.schemas import NotificationStatus, RegistrationCreate

logger = logging.getLogger(__name__)

NOTIFICATION_STATUSES = {
    OutboxStatus.PENDING: NotificationStatus.QUEUED,
    OutboxStatus.SENT: NotificationStatus.SENT,
    OutboxStatus.DEAD: NotificationStatus.FAILED,
}


def refuse_if_ended(registration: Registration, now: datetime) -> RegistrationStatus:
    """Raises when the registration is cancelled or expired; else returns its status."""
    status = registration.status_at(now)
    if status is RegistrationStatus.CANCELLED:
        raise RegistrationCancelledError()
    if status is RegistrationStatus.EXPIRED:
        raise RegistrationExpiredError()
    return status


def refuse_unless_holding(registration: Registration, now: datetime) -> None:
    """Raises the error that says why a registration cannot be confirmed or get a new code:
    it is confirmed, cancelled, expired or locked."""
    if refuse_if_ended(registration, now) is RegistrationStatus.CONFIRMED:
        raise RegistrationConfirmedError()
    if registration.locked:
        raise RegistrationLockedError()


async def refuse_if_known_full(full_events: FullEvents, event_id: uuid.UUID) -> None:
    """Refuses a registration for an event this process knows full, with no query: callable
    before anything else of the request is read (the router does, ahead of its body)."""
    if await full_events.is_full(event_id, utcnow()):
        raise EventFullError()


async def registration_of(
    registrations: RegistrationRepository, user_id: uuid.UUID, registration_id: uuid.UUID
) -> Registration:
    """The user's registration with that id; another user's is not found, as an unknown one."""
    registration = await registrations.get_for_user(registration_id, user_id)
    if registration is None:
        raise RegistrationNotFoundError()
    return registration


class RegistrationService(Lifecycle):
    """The visitor's side, in the caller's unit of work: the shared seat rules (Lifecycle),
    and the checks and answers of each thing a visitor does."""

    # -- registrations

    async def register(
        self, user_id: uuid.UUID, event_id: uuid.UUID, data: RegistrationCreate, link_base: str
    ) -> Registration:
        """Everything that does not need the seat comes first — the checks, the code and its
        notice —, and the registration, its notice and the seat are written last, together,
        with the seat's statement holding the event's row only until the commit. Only when
        they cannot be (holds may have lapsed, somebody waits, the user's limit or the email's
        unique index refused) are they written one by one, and the event locked and settled
        as by every other path that frees seats."""
        # Done already ahead of the body when no Idempotency-Key came (the router); a keyed
        # request meets it here, once its replay was looked for.
        await refuse_if_known_full(self.full_events, event_id)
        now = utcnow()
        version = self.full_events.version_before_reading()
        seen = await self.registrations.look_before_registering(
            event_id, user_id, email_key(data.email)
        )
        seen = self._refuse_before_holding(event_id, seen, version, now)
        until = now + timedelta(seconds=self.settings.registration_hold_seconds)
        registration = self.pending(
            event_id, user_id, data.full_name, data.email, now, until, link_base
        )
        code, registration.code_hash = self.code_and_hash(registration.id)
        notice = self.notices.code(registration, seen.name, code, until)
        registration.notice_message_id = notice.id
        stored = self.registrations.new_within_limit(
            registration, self.settings.registrations_per_user_per_event
        )
        writes = (stored, notice.message)
        if not (
            seen.nobody_waits()
            and await self.catalogue.take_seat(event_id, until, now, along=writes)
        ):
            await self._add_within_limit(stored)
            await self.outbox.put(notice)
            await self._take_seat_settling(event_id, until, version, now)
        # Told once it is so, and not while the seat's row waits for the commit.
        self.work.after_commit(
            partial(
                logger.info,
                "registration created",
                extra={"registration_id": str(registration.id), "event_id": str(event_id)},
            )
        )
        return registration

    async def confirm(
        self, user_id: uuid.UUID, registration_id: uuid.UUID, code: str, link_base: str
    ) -> Registration:
        """Confirms with the emailed code: the ticket is issued, and a notice with its link
        queued."""
        registration = await self._mine(user_id, registration_id)
        now = utcnow()
        if registration.status_at(now) is RegistrationStatus.CONFIRMED:
            return registration  # confirming again changes nothing
        refuse_unless_holding(registration, now)
        if not self.codes.matches(registration.id, code, registration.code_hash):
            if await self.registrations.count_failed_attempt(registration.id, now):
                raise WrongCodeError()
        elif await self.registrations.confirm(registration.id, now, link_base):
            await self.registrations.refresh(registration)
            event = await self.catalogue.read(registration.event_id)
            notice_id = await self.notices.confirmed(registration, event, event.venue)
            await self.registrations.set_notice(registration.id, notice_id)
            return registration
        # Changed meanwhile (confirmed, cancelled, expired or locked by a concurrent request).
        await self.registrations.refresh(registration)
        if registration.status_at(now) is RegistrationStatus.CONFIRMED:
            return registration
        refuse_unless_holding(registration, now)
        raise RegistrationLockedError()

    async def resend_code(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        """A new code, in a new notice; the old code stops working. The hold and the count of
        wrong codes stay as they were."""
        registration = await self._mine(user_id, registration_id)
        now = utcnow()
        self._refuse_a_resend(registration, now)
        event = await self.catalogue.read(registration.event_id)
        issued = await self.issue_code(
            registration.id, lambda code: self.notices.new_code(registration, event.name, code)
        )
        interval = timedelta(seconds=self.settings.code_resend_interval_seconds)
        replaced = await self.registrations.replace_code(
            registration.id,
            issued.code_hash,
            now,
            last_code_before=now - interval,
            notice_id=issued.notice_id,
        )
        await self.registrations.refresh(registration)
        if not replaced:  # a concurrent request changed it (the notice goes with the rollback)
            self._refuse_a_resend(registration, now)
            raise ResendTooSoonError(retry_after=1)
        return registration

    async def cancel(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        """Cancels, frees the seat (for the waiting list first) and queues a cancellation
        notice; a cancelled or expired registration comes back unchanged."""
        registration = await self._mine(user_id, registration_id)
        now = utcnow()
        status = registration.status_at(now)
        if status in (RegistrationStatus.CANCELLED, RegistrationStatus.EXPIRED):
            return registration
        event = await self.catalogue.lock(registration.event_id)
        if await self.registrations.cancel(registration.id, now):
            event.release_seats(1)
            notice_id = await self.notices.cancelled(registration, event)
            await self.registrations.set_notice(registration.id, notice_id)
            await self.settle(event, now)
        await self.registrations.refresh(registration)
        return registration

    async def get(
        self, user_id: uuid.UUID, registration_id: uuid.UUID
    ) -> tuple[Registration, NotificationStatus | None]:
        """The registration, and how delivering its latest notice went."""
        registration = await self._mine(user_id, registration_id)
        message_id = registration.notice_message_id
        status = await self.outbox.status_of(message_id) if message_id else None
        return registration, NOTIFICATION_STATUSES[status] if status else None

    async def list_mine(self, user_id: uuid.UUID, page: PageRequest) -> Found[Registration]:
        count = await self.registrations.count_for_user(user_id)
        rows = await self.registrations.page_for_user(
            user_id, offset=page.offset, limit=page.page_size
        )
        return Found(rows, count)

    # -- the waiting list

    async def join_waitlist(
        self, user_id: uuid.UUID, event_id: uuid.UUID, data: RegistrationCreate
    ) -> tuple[WaitlistEntry, int]:
        """A new waiting entry, and its position; only while the event has no seat for a
        direct registration."""
        now = utcnow()
        event = await self._settled_event(event_id, now)
        if not event.waitlist_count and event.free_seats != 0:
            raise SeatsAvailableError()
        await self._refuse_a_second_registration(event, user_id, data.email)
        if await self.waitlist.email_is_waiting(event_id, email_key(data.email)):
            raise AlreadyWaitingError()
        if (
            await self.waitlist.count_waiting_for_user(event_id, user_id)
            >= self.settings.registrations_per_user_per_event
        ):
            raise WaitlistLimitReachedError()
        entry = WaitlistEntry(
            id=uuid.uuid4(),
            event_id=event_id,
            user_id=user_id,
            full_name=data.full_name,
            email=data.email,
            email_key=email_key(data.email),
            created_at=now,
        )
        await self.waitlist.add(entry)
        entry.event, entry.registration = event, None
        event.waitlist_count += 1
        return entry, event.waitlist_count

    async def leave_waitlist(
        self, user_id: uuid.UUID, entry_id: uuid.UUID
    ) -> tuple[WaitlistEntry, int | None]:
        """The entry leaves the list; leaving again, or an entry no longer waiting, changes
        nothing."""
        entry = await self._my_entry(user_id, entry_id)
        if entry.stored_status == WaitlistStatus.WAITING:
            event = await self.catalogue.lock(entry.event_id)
            if await self.waitlist.leave(entry.id, utcnow()):
                event.waitlist_count -= 1
            await self.waitlist.refresh(entry)
        return entry, await self.position_of(entry, utcnow())

    async def get_entry(
        self, user_id: uuid.UUID, entry_id: uuid.UUID
    ) -> tuple[WaitlistEntry, int | None]:
        entry = await self._my_entry(user_id, entry_id)
        return entry, await self.position_of(entry, utcnow())

    async def list_entries(
        self, user_id: uuid.UUID, page: PageRequest
    ) -> Found[tuple[WaitlistEntry, int | None]]:
        count = await self.waitlist.count_for_user(user_id)
        entries = await self.waitlist.page_for_user(
            user_id, offset=page.offset, limit=page.page_size
        )
        now = utcnow()
        return Found([(entry, await self.position_of(entry, now)) for entry in entries], count)

    # -- shared checks

    async def _settled_event(self, event_id: uuid.UUID, now: datetime) -> Event:
        """The event, locked and settled (lapsed holds freed, free seats offered), open for
        registration. The lock also serialises the checks that follow with any other request
        for the event that changes its waiting list (the unique index on waiting emails stands
        behind that)."""
        event = await self.catalogue.lock(event_id)
        await self.settle(event, now)
        if not event.registration_is_open(now):
            raise RegistrationClosedError()
        return event

    def _refuse_before_holding(
        self, event_id: uuid.UUID, seen: EventAsSeen | None, version: str | None, now: datetime
    ) -> EventAsSeen:
        """Refuses, before anything is written, what the event as read says already: no such
        event, registration closed, no seat, the email or the user registered already. A full
        event is refused before the visitor's own registrations are looked at, as it is once
        this process knows it full (`FullEvents`, recorded here under `version`): the same
        answer, whether or not the event was read."""
        if seen is None:
            raise EventNotFoundError()
        if not seen.registration_is_open(now):
            raise RegistrationClosedError()
        if seen.is_surely_full(now):
            self.full_events.saw_full(event_id, version, seen.full_until())
            raise EventFullError()
        if seen.email_is_active:
            raise AlreadyRegisteredError()
        if seen.active_for_user >= self.settings.registrations_per_user_per_event:
            raise RegistrationLimitReachedError()
        return seen

    async def _add_within_limit(self, registration: LastWrite) -> None:
        """Stores the registration — unless a concurrent request of the same user reached the
        per-user limit, or one with the same email came first, meanwhile."""
        try:
            added = await self.registrations.add_within_limit(registration)
        except DuplicateActiveEmailError:
            raise AlreadyRegisteredError() from None
        if not added:
            raise RegistrationLimitReachedError()

    async def _take_seat_settling(
        self, event_id: uuid.UUID, until: datetime, version: str | None, now: datetime
    ) -> None:
        """The seat taken the long way: the event locked and settled first (lapsed holds
        freed, free seats offered to whoever waits, who comes first)."""
        event = await self._settled_event(event_id, now)
        if event.waitlist_count or event.free_seats == 0:
            self.full_events.saw_full(event_id, version, event.full_until())
            raise EventFullError()
        event.take_seats(1, until)

    async def _refuse_a_second_registration(
        self, event: Event, user_id: uuid.UUID, email: str
    ) -> None:
        if await self.registrations.email_is_active(event.id, email_key(email)):
            raise AlreadyRegisteredError()
        if (
            await self.registrations.count_active_for_user(event.id, user_id)
            >= self.settings.registrations_per_user_per_event
        ):
            raise RegistrationLimitReachedError()

    def _refuse_a_resend(self, registration: Registration, now: datetime) -> None:
        refuse_unless_holding(registration, now)
        if registration.codes_resent >= MAX_CODE_RESENDS:
            raise ResendLimitReachedError()
        next_allowed = registration.code_sent_at + timedelta(
            seconds=self.settings.code_resend_interval_seconds
        )
        if next_allowed > now:
            wait = math.ceil((next_allowed - now).total_seconds())
            raise ResendTooSoonError(retry_after=max(wait, 1))

    async def position_of(self, entry: WaitlistEntry, now: datetime) -> int | None:
        """The entry's rank among its event's waiting entries; None when it is not waiting."""
        if entry.status_at(now) is not WaitlistStatus.WAITING:
            return None
        return await self.waitlist.position(entry)

    async def _mine(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        return await registration_of(self.registrations, user_id, registration_id)

    async def _my_entry(self, user_id: uuid.UUID, entry_id: uuid.UUID) -> WaitlistEntry:
        entry = await self.waitlist.get_for_user(entry_id, user_id)
        if entry is None:
            raise WaitlistEntryNotFoundError()
        return entry
