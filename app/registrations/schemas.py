import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.registrations.models import RegistrationStatus

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ConfirmationCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class RegistrationCreate(BaseModel):
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
    status: RegistrationStatus
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None


class RegistrationDetail(RegistrationRead):
    notification_status: NotificationStatus | None = Field(
        description="Delivery of the latest notice (the code, or the cancellation notice)"
    )
