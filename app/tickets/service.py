"""The way to the door (SPEC §4.6), in the caller's unit of work: a confirmed registration's
ticket and calendar file, and the scans at the door, online and uploaded later."""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.core.database import UnitOfWork, utcnow
from app.core.metrics import Metrics
from app.core.pagination import Found, PageRequest
from app.events.models import Event
from app.events.service import Catalogue
from app.events.version import LatestVersion
from app.provider.records import CANCELLED_PROVIDER_STATUS
from app.registrations.models import Registration, RegistrationStatus
from app.registrations.repository import RegistrationRepository
from app.registrations.service import refuse_if_ended, registration_of
from app.tickets.calendar import calendar_file
from app.tickets.errors import EventNotScheduledError, RegistrationNotConfirmedError
from app.tickets.models import CheckinScan, ScanResult
from app.tickets.repository import TicketRepository
from app.tickets.schemas import ScanRequest
from app.tickets.signing import InvalidTicketToken, TicketClaims, TicketKeys

CANCELLED_REGISTRATION = (RegistrationStatus.CANCELLED, RegistrationStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class Ticket:
    registration: Registration
    event: Event  # with its venue
    token: str


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    result: ScanResult
    checked_in_at: datetime | None = None
    registration: Registration | None = None  # the ticket's, when the token named one

    @classmethod
    def kept(cls, scan: CheckinScan) -> "ScanOutcome":
        """The outcome a scan was given (its registration loaded)."""
        assert scan.result is not None
        return cls(ScanResult(scan.result), scan.checked_in_at, scan.registration)


def refuse_unless_ticketed(registration: Registration, now: datetime) -> None:
    """Only a confirmed registration has a ticket."""
    if refuse_if_ended(registration, now) is RegistrationStatus.PENDING:
        raise RegistrationNotConfirmedError()


class TicketService:
    """The visitor's side: their ticket, its reissue, calendar files."""

    def __init__(self, work: UnitOfWork, latest: LatestVersion, keys: TicketKeys) -> None:
        self.registrations = RegistrationRepository(work.session)
        self.catalogue = Catalogue(work, latest)
        self.keys = keys

    async def ticket(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Ticket:
        registration = await registration_of(self.registrations, user_id, registration_id)
        refuse_unless_ticketed(registration, utcnow())
        return await self._ticket_of(registration)

    async def reissue(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Ticket:
        """A new token for the ticket; every older one is refused at the door from now on."""
        registration = await registration_of(self.registrations, user_id, registration_id)
        now = utcnow()
        refuse_unless_ticketed(registration, now)
        reissued = await self.registrations.reissue(registration.id, now)
        await self.registrations.refresh(registration)
        if not reissued:  # cancelled meanwhile
            refuse_unless_ticketed(registration, now)
        return await self._ticket_of(registration)

    async def registration_calendar(
        self, user_id: uuid.UUID, registration_id: uuid.UUID, link_base: str
    ) -> bytes:
        """The event in the visitor's calendar, cancelled there once the event or the
        registration is."""
        registration = await registration_of(self.registrations, user_id, registration_id)
        event = await self.catalogue.read(registration.event_id)
        cancelled = registration.status_at(utcnow()) in CANCELLED_REGISTRATION
        url = f"{link_base}/api/registrations/{registration.id}/ticket"
        return self._calendar(event, cancelled=cancelled, url=url)

    async def event_calendar(self, event_id: uuid.UUID) -> bytes:
        return self._calendar(await self.catalogue.read(event_id), cancelled=False, url=None)

    def _calendar(self, event: Event, *, cancelled: bool, url: str | None) -> bytes:
        if event.event_time is None:
            raise EventNotScheduledError()
        cancelled = cancelled or event.provider_status == CANCELLED_PROVIDER_STATUS
        return calendar_file(event, cancelled=cancelled, url=url, now=utcnow())

    async def _ticket_of(self, registration: Registration) -> Ticket:
        event = await self.catalogue.read(registration.event_id)
        claims = TicketClaims(registration.id, registration.event_id, registration.ticket_version)
        return Ticket(registration, event, self.keys.sign(claims))


class CheckinService:
    """The door's side: scans judged and recorded, the attendee list for offline scanners."""

    def __init__(
        self, work: UnitOfWork, latest: LatestVersion, keys: TicketKeys, metrics: Metrics
    ) -> None:
        self.work = work
        self.registrations = RegistrationRepository(work.session)
        self.scans = TicketRepository(work.session)
        self.catalogue = Catalogue(work, latest)
        self.keys = keys
        self.metrics = metrics

    async def scan(self, door_user_id: uuid.UUID, scan: ScanRequest) -> ScanOutcome:
        """Judges and records one scan. A scan whose `nonce` was seen gets its first outcome
        back and changes nothing."""
        event = await self.catalogue.read(scan.event_id)
        return await self._scan(door_user_id, event, scan)

    async def scan_batch(
        self, door_user_id: uuid.UUID, scans: Sequence[ScanRequest]
    ) -> list[ScanOutcome]:
        """Scans uploaded by an offline scanner, judged in the order sent: where two devices
        admitted one ticket, the first scan to reach us is the check-in."""
        events: dict[uuid.UUID, Event] = {}
        outcomes = []
        for scan in scans:
            if scan.event_id not in events:
                events[scan.event_id] = await self.catalogue.read(scan.event_id)
            outcomes.append(await self._scan(door_user_id, events[scan.event_id], scan))
        return outcomes

    async def attendees(
        self, event_id: uuid.UUID, changed_since: datetime | None, page: PageRequest
    ) -> Found[Registration]:
        """Every ticket the event ever issued (revoked ones too), oldest change first."""
        await self.catalogue.read(event_id)
        count = await self.registrations.count_tickets(event_id, changed_since)
        rows = await self.registrations.page_tickets(
            event_id, changed_since, offset=page.offset, limit=page.page_size
        )
        return Found(rows, count)

    async def _scan(self, door_user_id: uuid.UUID, event: Event, scan: ScanRequest) -> ScanOutcome:
        digest = hashlib.sha256(scan.token.encode()).hexdigest()
        if scan.nonce is not None:
            kept = await self.scans.scan_by_nonce(scan.nonce)
            if kept is not None:
                return self._replayed(kept, event, digest)
        now = utcnow()
        # A scanner's clock running fast must not check anybody in in the future.
        scanned_at = min(scan.scanned_at or now, now)
        scan_id = uuid.uuid4()
        claimed = await self.scans.claim_scan(
            {
                "id": scan_id,
                "nonce": scan.nonce,
                "event_id": event.id,
                "token_digest": digest,
                "scanned_by": door_user_id,
                "scanned_at": scanned_at,
                "received_at": now,
            }
        )
        if not claimed:  # a concurrent request with this nonce came first, and is done
            kept = await self.scans.scan_by_nonce(scan.nonce or "")
            assert kept is not None
            return self._replayed(kept, event, digest)
        outcome = await self._judge(event, scan.token, scanned_at, now)
        await self.scans.record_result(
            scan_id,
            result=outcome.result,
            checked_in_at=outcome.checked_in_at,
            registration_id=outcome.registration.id if outcome.registration else None,
        )
        return self._counted(outcome)

    def _replayed(self, kept: CheckinScan, event: Event, digest: str) -> ScanOutcome:
        """The first outcome of the nonce's scan, if this is that scan sent again."""
        if kept.event_id == event.id and kept.token_digest in (None, digest):
            return ScanOutcome.kept(kept)
        return self._counted(ScanOutcome(ScanResult.NONCE_REUSED))

    def _counted(self, outcome: ScanOutcome) -> ScanOutcome:
        counter = self.metrics.checkin_scans.labels(outcome.result)
        self.work.after_commit(counter.inc)
        return outcome

    async def _judge(
        self, event: Event, token: str, scanned_at: datetime, now: datetime
    ) -> ScanOutcome:
        try:
            claims = self.keys.verify(token)
        except InvalidTicketToken:
            return ScanOutcome(ScanResult.INVALID_TICKET)
        if claims.event_id != event.id:
            return ScanOutcome(ScanResult.WRONG_EVENT)
        if event.provider_status == CANCELLED_PROVIDER_STATUS:
            return ScanOutcome(ScanResult.EVENT_CANCELLED)
        checked_in = await self.registrations.check_in(
            claims.registration_id, event.id, claims.version, scanned_at, now
        )
        if checked_in is not None:
            return ScanOutcome(ScanResult.OK, checked_in.checked_in_at, checked_in)
        # Why not: read it as it is now (a concurrent scan may have just checked it in).
        registration = await self.registrations.get(claims.registration_id)
        if registration is None or registration.event_id != event.id:
            return ScanOutcome(ScanResult.REVOKED_TICKET)  # erased
        valid = (
            registration.stored_status == RegistrationStatus.CONFIRMED
            and registration.ticket_version == claims.version
        )
        if valid and registration.checked_in_at is not None:
            return ScanOutcome(
                ScanResult.ALREADY_CHECKED_IN, registration.checked_in_at, registration
            )
        return ScanOutcome(ScanResult.REVOKED_TICKET, None, registration)
