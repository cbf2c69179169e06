import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.core.pagination import PageRequest
from app.tickets.models import ScanResult

MAX_BATCH_SCANS = 500
TicketToken = Annotated[str, StringConstraints(min_length=1, max_length=400)]
# Printable ASCII: a scanner's own id for a scan (a UUID, a counter), stored as it is.
Nonce = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[ -~]+$")]


class TicketVenue(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="The venue's name")
    city: str | None = Field(description="Its city; null when the provider gives none")
    address: str | None = Field(description="Its street address; null when the provider gives none")


class TicketEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The event's id")
    name: str = Field(description="The event's name")
    event_time: datetime | None = Field(
        description="When it starts (UTC); null while the provider has not set it"
    )
    venue: TicketVenue | None = Field(description="Where it takes place; null when not known")


class TicketRead(BaseModel):
    registration_id: uuid.UUID = Field(description="The confirmed registration it admits")
    event: TicketEvent = Field(description="The event it admits to")
    full_name: str = Field(description="Whom it admits")
    token: str = Field(
        description="What the QR code carries: Ed25519-signed, verifiable offline with "
        "`GET /api/checkin/keys` (docs/tickets-and-check-in.md says how)"
    )
    issued_at: datetime = Field(description="When this token was issued (confirmed, reissued)")


class ScanRequest(BaseModel):
    event_id: uuid.UUID = Field(description="The event the door admits to")
    token: TicketToken = Field(description="The ticket's token, as its QR code carries it")
    nonce: Nonce | None = Field(
        None, description="The scanner's id for this scan: sent again, the first answer returns"
    )
    scanned_at: AwareDatetime | None = Field(
        None, description="When the scanner read the ticket (default: when it reaches us)"
    )


class BatchScan(ScanRequest):
    nonce: Nonce = Field(
        description="The scanner's id for this scan: an upload sent again "
        "answers each scan as the first time"
    )
    scanned_at: AwareDatetime = Field(description="When the scanner read the ticket, offline")


class BatchRequest(BaseModel):
    scans: list[BatchScan] = Field(
        min_length=1, max_length=MAX_BATCH_SCANS, description="The scans, oldest first"
    )


class Attendee(BaseModel):
    """Whom a ticket admits: the attendee's name and the event, nothing more."""

    id: uuid.UUID = Field(description="The registration's id")
    event_id: uuid.UUID = Field(description="The event it is for")
    full_name: str = Field(description="The attendee's name, to compare with the person")
    ticket_version: int = Field(description="The version of the ticket now valid")
    checked_in_at: datetime | None = Field(description="Its first check-in; null before it")


class ScanAnswer(BaseModel):
    result: ScanResult = Field(
        description="`ok` for the first scan of a valid ticket; otherwise why it was refused"
    )
    checked_in_at: datetime | None = Field(
        description="The ticket's check-in (the first scan); null when it was never checked in"
    )
    registration: Attendee | None = Field(description="Null when the token named no ticket")


class BatchScanAnswer(ScanAnswer):
    nonce: str = Field(description="The scan's nonce, as sent")
    type: str | None = Field(
        description="The problem type `POST /api/checkin` would have answered with; null: ok"
    )


class BatchAnswer(BaseModel):
    results: list[BatchScanAnswer] = Field(description="One per scan, in the order sent")


class AttendeeEntry(BaseModel):
    """A ticket as an offline scanner keeps it."""

    registration_id: uuid.UUID = Field(description="The registration the ticket belongs to")
    ticket_version: int = Field(description="Only a token of this version is valid")
    full_name: str = Field(description="The attendee's name")
    checked_in_at: datetime | None = Field(description="Its first check-in; null before it")
    revoked: bool = Field(description="Cancelled or erased: no token of it is valid")
    changed_at: datetime = Field(description="Its last change: the next `changed_since`")


class AttendeeQuery(PageRequest):
    changed_since: AwareDatetime | None = Field(
        None, description="Only the tickets that changed after this instant"
    )
