"""What happens to registrations and waiting entries with time and with changes upstream: holds
that lapse, seats offered to the waiting list, events cancelled, moved, resized or closed by
the provider (SPEC §4.5). The visitor's own actions are in service.py; both share `Lifecycle`.

Every change to an event's seats happens with the event's row locked (`Catalogue.lock`), in one
unit of work with the notices it causes. Under that lock the event's counters are exact, so
"each freed seat is offered to exactly one entry, oldest first" is plain arithmetic, however
many replicas cancel, register and sweep at once: on PostgreSQL they queue on the row lock (the
sweep skips an event somebody holds — the holder settles it), on SQLite on the database's one
writer.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.config import Settings
from app.core.database import Database, UnitOfWork, utcnow
from app.core.metrics import Counter, Metrics
from app.events.models import Event
from app.events.service import Catalogue
from app.events.version import FullEvents, LatestVersion
from app.outbox.service import Outbox
from app.provider.changes import EventChange
from app.registrations.codes import CodeHasher, new_code
from app.registrations.models import (
    Registration,
    RegistrationStatus,
    WaitlistEntry,
    email_key,
)
from app.registrations.notices import Notices
from app.registrations.repository import RegistrationRepository, WaitlistRepository

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class Surroundings:
    """What every path that frees or fills seats needs besides its unit of work; made once per
    process (the container)."""

    settings: Settings
    relay_wake: asyncio.Event  # set once a notice is committed: the relay sends at once
    metrics: Metrics
    catalogue_version: LatestVersion
    full_events: FullEvents  # refused without a query while known full


# Events known full, at most (a few hundred bytes each).
FULL_EVENTS_KEPT = 10_000


def surroundings_for(
    settings: Settings, database: Database, relay_wake: asyncio.Event, metrics: Metrics
) -> Surroundings:
    latest = LatestVersion(settings.catalogue_version_refresh_seconds)
    full_events = FullEvents(latest, database, FULL_EVENTS_KEPT)
    return Surroundings(settings, relay_wake, metrics, latest, full_events)


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A code sent: the hash a registration keeps, and the notice that carries the code."""

    code_hash: str
    notice_id: uuid.UUID


class Lifecycle:
    """The seat rules shared by every path that frees or fills seats, in one unit of work."""

    def __init__(self, work: UnitOfWork, around: Surroundings) -> None:
        self.work = work
        self.settings = around.settings
        self.metrics = around.metrics
        self.catalogue = Catalogue(work, around.catalogue_version)
        self.full_events = around.full_events
        self.registrations = RegistrationRepository(work.session)
        self.waitlist = WaitlistRepository(work.session)
        self.outbox = Outbox(work, around.relay_wake)
        self.notices = Notices(self.outbox, around.settings.public_base)
        self.codes = CodeHasher(around.settings.secret_key)

    async def issue_code(
        self, registration_id: uuid.UUID, notice: Callable[[str], Awaitable[uuid.UUID]]
    ) -> IssuedCode:
        """A new code for the registration: `notice` queues the notice that carries it (the
        code itself is never kept)."""
        code, code_hash = self.code_and_hash(registration_id)
        return IssuedCode(code_hash, await notice(code))

    def code_and_hash(self, registration_id: uuid.UUID) -> tuple[str, str]:
        """A new code for the registration, and the hash it keeps of it."""
        code = new_code()
        return code, self.codes.hash(registration_id, code)

    async def settle(self, event: Event, now: datetime) -> None:
        """With `event` locked: records the holds that lapsed (their seats free, their offers
        end), then ends the waiting list if registration has closed, or else offers every free
        seat to the oldest waiting entries."""
        await self._expire_lapsed_holds(event, now)
        if not event.registration_is_open(now):
            await self._end_waiting(event, now)
        else:
            await self._offer_free_seats(event, now)

    async def follow(self, changes: Sequence[EventChange]) -> None:
        """Follows what the provider changed about stored events (the sync or the stream
        applied it in this unit of work)."""
        now = utcnow()
        for change in changes:
            event = await self.catalogue.lock(change.event_id)
            if change.cancelled:
                await self._cancel_everything(event, now)
                continue
            if change.rescheduled_to is not None:
                await self._announce_new_time(event, change.rescheduled_to, now)
            if change.seats_or_status:
                await self.settle(event, now)

    def pending(
        self,
        event_id: uuid.UUID,
        user_id: uuid.UUID,
        full_name: str,
        email: str,
        now: datetime,
        until: datetime,
        link_base: str | None = None,
    ) -> Registration:
        """A new pending registration holding a seat until `until` (not yet stored);
        `link_base`: where the visitor reached us, for the links of its notices."""
        return Registration(
            id=uuid.uuid4(),
            event_id=event_id,
            user_id=user_id,
            full_name=full_name,
            email=email,
            email_key=email_key(email),
            stored_status=RegistrationStatus.PENDING,
            expires_at=until,
            code_sent_at=now,
            codes_resent=0,
            failed_attempts=0,
            created_at=now,
            link_base=link_base,
        )

    async def _expire_lapsed_holds(self, event: Event, now: datetime) -> None:
        if event.next_hold_expiry is None or event.next_hold_expiry > now:
            return  # no hold can have lapsed: no need to look
        lapsed = await self.registrations.expire_lapsed(event.id, now)
        event.release_seats(len(lapsed))
        offers = await self.waitlist.expire_offers(lapsed, now)
        event.next_hold_expiry = await self.registrations.next_hold_expiry(event.id)
        self._count(self.metrics.holds_expired, len(lapsed))
        self._count(self.metrics.offers_expired, offers)

    async def _offer_free_seats(self, event: Event, now: datetime) -> None:
        free = event.free_seats
        if not event.waitlist_count or free == 0:
            return
        wanted = event.waitlist_count if free is None else min(free, event.waitlist_count)
        for entry in await self.waitlist.oldest_waiting(event.id, wanted):
            await self._offer(event, entry, now)

    async def _offer(self, event: Event, entry: WaitlistEntry, now: datetime) -> None:
        """The entry gets a pending registration holding a seat for WAITLIST_OFFER_SECONDS,
        its code in an offer notice."""
        until = now + timedelta(seconds=self.settings.waitlist_offer_seconds)
        offer = self.pending(event.id, entry.user_id, entry.full_name, entry.email, now, until)
        issued = await self.issue_code(
            offer.id, lambda code: self.notices.offer(offer, event, code, until)
        )
        offer.code_hash, offer.notice_message_id = issued.code_hash, issued.notice_id
        await self.registrations.add(offer)
        await self.waitlist.mark_offered(entry.id, offer.id, now)
        event.take_seats(1, until)
        event.waitlist_count -= 1
        self._count(self.metrics.offers_made, 1)

    async def _end_waiting(self, event: Event, now: datetime) -> list[WaitlistEntry]:
        ended = await self.waitlist.end_waiting(event.id, now) if event.waitlist_count else []
        event.waitlist_count = 0
        return ended

    async def _cancel_everything(self, event: Event, now: datetime) -> None:
        """The provider cancelled the event: its registrations are cancelled and its waiting
        entries end, each visitor told once."""
        await self._expire_lapsed_holds(event, now)
        for registration in await self.registrations.cancel_all_active(event.id, now):
            notice_id = await self.notices.event_cancelled(registration, event)
            await self.registrations.set_notice(registration.id, notice_id)
        for entry in await self._end_waiting(event, now):
            await self.notices.event_cancelled(entry, event)
        event.release_seats(event.registrations_count)  # every one
        event.next_hold_expiry = None

    async def _announce_new_time(self, event: Event, new_time: datetime, now: datetime) -> None:
        for registration in await self.registrations.active_for_event(event.id, now):
            notice_id = await self.notices.rescheduled(registration, event, new_time)
            await self.registrations.set_notice(registration.id, notice_id)

    def _count(self, counter: Counter, amount: int) -> None:
        """Counted once the unit of work commits (a rolled-back expiry expired nothing)."""
        if amount:
            self.work.after_commit(lambda: counter.inc(amount))


async def sweep(database: Database, around: Surroundings) -> int:
    """One round of the background sweep: settles every event that needs it — a hold may have
    lapsed, or somebody waits while a seat is free or registration has closed — each in a unit
    of work of its own, skipping those another transaction holds. Returns how many it settled;
    safe to run on every replica at once."""
    async with database.transaction() as work:
        due = await Catalogue(work, around.catalogue_version).due_for_settling(SWEEP_BATCH)
    settled = 0
    for event_id in due:
        async with database.transaction() as work:
            lifecycle = Lifecycle(work, around)
            event = await lifecycle.catalogue.lock_unless_busy(event_id)
            if event is not None:
                await lifecycle.settle(event, utcnow())
                settled += 1
    return settled
