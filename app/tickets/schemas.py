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

    name: str
    city: str | None
    address: str | None


class TicketEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    event_time: datetime | None = Field(description="Null while the provider has not set it")
    venue: TicketVenue | None


class TicketRead(BaseModel):
    registration_id: uuid.UUID
    event: TicketEvent
    full_name: str
    token: str = Field(
        description="What the QR code carries: Ed25519-signed, verifiable offline with "
        "`GET /api/checkin/keys` (docs/tickets-and-check-in.md says how)"
    )
    issued_at: datetime = Field(description="When this token was issued (confirmed, reissued)")


class ScanRequest(BaseModel):
    event_id: uuid.UUID = Field(description="The event the door admits to")
    token: TicketToken
    nonce: Nonce | None = Field(
        None, description="The scanner's id for this scan: sent again, the first answer returns"
    )
    scanned_at: AwareDatetime | None = Field(
        None, description="When the scanner read the ticket (default: when it reaches us)"
    )


class BatchScan(ScanRequest):
    nonce: Nonce
    scanned_at: AwareDatetime


class BatchRequest(BaseModel):
    scans: list[BatchScan] = Field(min_length=1, max_length=MAX_BATCH_SCANS)


class Attendee(BaseModel):
    """Whom a ticket admits: the attendee's name and the event, nothing more."""

    id: uuid.UUID = Field(description="The registration's id")
    event_id: uuid.UUID
    full_name: str
    ticket_version: int
    checked_in_at: datetime | None


class ScanAnswer(BaseModel):
    result: ScanResult
    checked_in_at: datetime | None = Field(description="The ticket's check-in (the first scan)")
    registration: Attendee | None = Field(description="Null when the token named no ticket")


class BatchScanAnswer(ScanAnswer):
    nonce: str
    type: str | None = Field(
        description="The problem type `POST /api/checkin` would have answered with; null: ok"
    )


class BatchAnswer(BaseModel):
    results: list[BatchScanAnswer] = Field(description="One per scan, in the order sent")


class AttendeeEntry(BaseModel):
    """A ticket as an offline scanner keeps it."""

    registration_id: uuid.UUID
    ticket_version: int = Field(description="Only a token of this version is valid")
    full_name: str
    checked_in_at: datetime | None
    revoked: bool = Field(description="Cancelled or erased: no token of it is valid")
    changed_at: datetime = Field(description="Its last change: the next `changed_since`")


class AttendeeQuery(PageRequest):
    changed_since: AwareDatetime | None = Field(
        None, description="Only the tickets that changed after this instant"
    )
