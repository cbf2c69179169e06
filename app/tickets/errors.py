"""The way to the door's errors: each outcome a client or a scanner tells apart has its own
problem type. A scan's refusal is itself the record of the scan (RecordedFailure): its unit of
work commits, so that the same `nonce` sent again gets the same answer."""

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from app.core.database import RecordedFailure
from app.core.errors import AppError, BadRequestError, ConflictError
from app.tickets.models import ScanResult


class RegistrationNotConfirmedError(ConflictError):
    """The registration is pending: its ticket is issued once it is confirmed with the code."""

    slug = "registration-not-confirmed"
    detail_text = "This registration is not confirmed yet: confirm it to get its ticket."


class EventNotScheduledError(ConflictError):
    """The provider has not given the event a time yet: there is nothing to put in a calendar."""

    slug = "event-not-scheduled"
    detail_text = "This event has no time yet."


class ScanRefusedError(RecordedFailure, AppError):
    """A scan that did not check anybody in; `extensions` carry what the scanner may show."""

    def __init__(self, checked_in_at: datetime | None, full_name: str | None) -> None:
        super().__init__()
        self.extensions: dict[str, Any] = {
            "checked_in_at": to_jsonable_python(checked_in_at),
            "full_name": full_name,
        }


class InvalidTicketError(ScanRefusedError, BadRequestError):
    """The token is malformed, altered, or signed by no key of `/api/checkin/keys`."""

    slug = "invalid-ticket"
    detail_text = "This is not a valid ticket."


class AlreadyCheckedInError(ScanRefusedError, ConflictError):
    """The ticket was checked in already: `checked_in_at` says when (the first scan)."""

    slug = "already-checked-in"
    detail_text = "This ticket was checked in already."


class RevokedTicketError(ScanRefusedError, ConflictError):
    """The ticket was revoked: its registration was cancelled or erased, or the ticket
    reissued (only the newest token is valid)."""

    slug = "revoked-ticket"
    detail_text = "This ticket was revoked."


class WrongEventError(ScanRefusedError, ConflictError):
    """The ticket is for another event."""

    slug = "wrong-event"
    detail_text = "This ticket is for another event."


class EventCancelledError(ScanRefusedError, ConflictError):
    """The event was cancelled by its organiser: nobody is checked in."""

    slug = "event-cancelled"
    detail_text = "This event was cancelled."


class NonceReusedError(ScanRefusedError, ConflictError):
    """The nonce was already sent with another ticket or event: a scanner's nonces must be its
    own (a UUID each). Nothing is recorded, and the other scan's result is not revealed."""

    slug = "nonce-reused"
    detail_text = "This nonce was already used for another scan."


def scan_refusal(result: ScanResult) -> type[ScanRefusedError]:
    """The problem a scan with this result answers with (not for `ok`)."""
    return _REFUSALS[result]


_REFUSALS: dict[ScanResult, type[ScanRefusedError]] = {
    ScanResult.ALREADY_CHECKED_IN: AlreadyCheckedInError,
    ScanResult.INVALID_TICKET: InvalidTicketError,
    ScanResult.REVOKED_TICKET: RevokedTicketError,
    ScanResult.WRONG_EVENT: WrongEventError,
    ScanResult.EVENT_CANCELLED: EventCancelledError,
    ScanResult.NONCE_REUSED: NonceReusedError,
}
# Every problem a scan may answer with (for the routes' documentation).
SCAN_REFUSALS = tuple(_REFUSALS.values())
