import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.core.database import utcnow
from app.core.text import STORABLE_TEXT
from app.registrations.models import RegistrationStatus, WaitlistEntry, WaitlistStatus

FullName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), STORABLE_TEXT
]
ConfirmationCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class RegistrationCreate(BaseModel):
    """Who is to come: for a registration, or for a place on the waiting list."""

    full_name: FullName = Field(description="The visitor's name, as on the ticket")
    email: EmailStr = Field(
        max_length=254, description="Where the confirmation code and every notice are sent"
    )


class ConfirmRequest(BaseModel):
    code: ConfirmationCode = Field(description="The 6-digit code of the latest code notice")


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class RegistrationRead(BaseModel):
    # `locked` has a default only for responses remembered under an Idempotency-Key before it
    # existed; every response carries it, so the document says it is required.
    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    id: uuid.UUID = Field(description="The registration's id")
    event_id: uuid.UUID = Field(description="The event it is for")
    full_name: str = Field(description="The visitor's name")
    email: str = Field(description="Where its notices go")
    status: RegistrationStatus = Field(
        description="`pending` while the seat is held, until `expires_at`; then `expired`. "
        "`confirmed` once the code was given; `cancelled` by the visitor, an erasure or the "
        "provider cancelling the event"
    )
    locked: bool = Field(
        False,
        description="True once 5 wrong codes were given: the registration can no longer be "
        "confirmed (confirming answers 429); it stays `pending` until its hold ends",
    )
    expires_at: datetime | None = Field(
        description="When the hold ends (or ended); null once confirmed or cancelled"
    )
    created_at: datetime = Field(description="When it was made")
    confirmed_at: datetime | None = Field(description="When it was confirmed; null until then")
    cancelled_at: datetime | None = Field(description="When it was cancelled; null unless it was")
    checked_in_at: datetime | None = Field(
        description="When the visitor's ticket was first scanned at the door; null until then"
    )


class RegistrationDetail(RegistrationRead):
    notification_status: NotificationStatus | None = Field(
        description="Delivery of the latest notice about this registration (its code, a new "
        "code, a cancellation, an event cancelled or moved); null when no notice about it is on "
        "record"
    )


class WaitlistEntryRead(BaseModel):
    id: uuid.UUID = Field(description="The entry's id")
    event_id: uuid.UUID = Field(description="The event it waits for")
    full_name: str = Field(description="The visitor's name")
    email: str = Field(description="Where the offer notice goes")
    status: WaitlistStatus = Field(
        description="`waiting`; `offered` once a freed seat was offered (see `registration_id`);"
        " `claimed` once that offer was confirmed; `left`; `expired` (its offer lapsed, or the "
        "event's registration closed)"
    )
    position: int | None = Field(
        description="1-based rank among the event's waiting entries, oldest first; null when "
        "not waiting"
    )
    registration_id: uuid.UUID | None = Field(
        description="The pending registration made for this entry when a seat was offered; "
        "confirm it with the code of the offer notice. Null until an offer is made"
    )
    created_at: datetime = Field(description="When the visitor joined the list")

    @classmethod
    def of(cls, entry: WaitlistEntry, position: int | None) -> "WaitlistEntryRead":
        return cls(
            id=entry.id,
            event_id=entry.event_id,
            full_name=entry.full_name,
            email=entry.email,
            status=entry.status_at(utcnow()),
            position=position,
            registration_id=entry.registration_id,
            created_at=entry.created_at,
        )
