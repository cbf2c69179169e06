import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.core.database import utcnow
from app.registrations.models import RegistrationStatus, WaitlistEntry, WaitlistStatus

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ConfirmationCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class RegistrationCreate(BaseModel):
    """Who is to come: for a registration, or for a place on the waiting list."""

    full_name: FullName
    email: EmailStr = Field(max_length=254)


class ConfirmRequest(BaseModel):
    code: ConfirmationCode


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class RegistrationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    full_name: str
    email: str
    status: RegistrationStatus = Field(
        description="`pending` while the seat is held, until `expires_at`; then `expired`"
    )
    expires_at: datetime | None = Field(
        description="When the hold ends (or ended); null once confirmed or cancelled"
    )
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    checked_in_at: datetime | None = Field(
        description="When the visitor's ticket was first scanned at the door; null until then"
    )


class RegistrationDetail(RegistrationRead):
    notification_status: NotificationStatus | None = Field(
        description="Delivery of the latest notice about this registration (its code, a new "
        "code, a cancellation, an event cancelled or moved)"
    )


class WaitlistEntryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    full_name: str
    email: str
    status: WaitlistStatus = Field(
        description="`waiting`; `offered` once a freed seat was offered (see `registration_id`);"
        " `left`; `expired` (its offer lapsed, or the event's registration closed)"
    )
    position: int | None = Field(
        description="1-based rank among the event's waiting entries, oldest first; null when "
        "not waiting"
    )
    registration_id: uuid.UUID | None = Field(
        description="The pending registration made for this entry when a seat was offered; "
        "confirm it with the code of the offer notice"
    )
    created_at: datetime

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
