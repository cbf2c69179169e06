import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import AnyPassword, UserRead
from app.outbox.models import OutboxStatus
from app.privacy.service import OwnData
from app.registrations.schemas import RegistrationRead, WaitlistEntryRead
from app.tickets.models import ScanResult


class EraseRequest(BaseModel):
    password: AnyPassword = Field(description="The account's password, to show it is its owner")


class ErasureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the service's Erasure

    message: str = Field("Account erased", description="What happened")
    registrations_cancelled: int = Field(
        description="Registrations (pending or confirmed) cancelled; their seats went to the "
        "waiting list as any cancellation's do, and their tickets are refused at the door"
    )
    waiting_entries_left: int = Field(description="Waiting-list entries that left the list")
    notices_dropped: int = Field(
        description="Notices not yet delivered (or given up on) that were deleted unsent"
    )
    notice_texts_deleted: int = Field(description="Delivered notices whose text was deleted")
    sessions_ended: int = Field(description="Refresh tokens revoked")


class ExportedRegistration(RegistrationRead):
    event_name: str = Field(description="The name of the event it is for")
    codes_resent: int = Field(description="How many new codes were asked for (3 at most)")
    failed_attempts: int = Field(description="Wrong codes given (5 lock the registration)")
    ticket_version: int = Field(
        description="The version of its ticket: each reissue makes a new one and revokes the "
        "older tokens"
    )
    ticket_issued_at: datetime | None = Field(
        description="When its current ticket was issued; null if it never had one (never confirmed)"
    )


class ExportedWaitingEntry(WaitlistEntryRead):
    event_name: str = Field(description="The name of the event it waits for")
    offered_at: datetime | None = Field(
        description="When a freed seat was offered to it; null if none was"
    )
    ended_at: datetime | None = Field(
        description="When it left the list or expired; null while waiting or offered"
    )


class ExportedNotice(BaseModel):
    id: uuid.UUID = Field(description="The notice's id, as the notification service knows it")
    kind: str = Field(
        description="What it says: `registration.code`, `registration.new_code`, "
        "`waitlist.offer`, `registration.confirmed`, `registration.cancelled`, "
        "`event.cancelled`, `event.rescheduled` or `registration.reminder`"
    )
    text: str | None = Field(
        description="Its text as kept, every confirmation code in it masked (`******`); null "
        "for notices queued before texts were kept"
    )
    status: OutboxStatus = Field(
        description="`pending` until delivered to the notification service, then `sent`; "
        "`dead` once it was given up on"
    )
    created_at: datetime = Field(description="When it was queued")
    sent_at: datetime | None = Field(description="When it was delivered; null until then")


class ExportedScan(BaseModel):
    registration_id: uuid.UUID = Field(description="The registration whose ticket was scanned")
    event_id: uuid.UUID = Field(description="The event whose door scanned it")
    result: ScanResult | None = Field(
        description="`ok` is the check-in; the others say why the ticket was refused. Null "
        "only for a scan still being judged"
    )
    scanned_at: datetime = Field(description="When the door scanned it (as the scanner said)")
    received_at: datetime = Field(description="When the scan reached the service")
    checked_in_at: datetime | None = Field(
        description="The ticket's check-in as this scan found or made it; null when the "
        "ticket was not valid"
    )


class ExportedSession(BaseModel):
    started_at: datetime = Field(description="When this refresh token was issued")
    expires_at: datetime = Field(description="When it expires (then it is deleted)")
    rotated_at: datetime | None = Field(
        description="When it was exchanged for a new pair; null if it was not"
    )
    revoked_at: datetime | None = Field(
        description="When it was revoked (logout, reuse detected); null if it was not"
    )


class OwnDataExport(BaseModel):
    exported_at: datetime = Field(description="When this export was made")
    account: UserRead = Field(description="The account")
    registrations: list[ExportedRegistration] = Field(
        description="Every registration the account made or was offered, oldest first"
    )
    waiting_entries: list[ExportedWaitingEntry] = Field(
        description="Every waiting-list entry of the account, oldest first"
    )
    notices: list[ExportedNotice] = Field(
        description="Every notice about those registrations and entries, oldest first"
    )
    check_ins: list[ExportedScan] = Field(
        description="Every scan of the account's tickets at the door, oldest first"
    )
    sessions: list[ExportedSession] = Field(
        description="The refresh tokens issued to the account and not yet expired"
    )

    @classmethod
    def of(cls, data: OwnData) -> "OwnDataExport":
        return cls(
            exported_at=data.exported_at,
            account=UserRead.model_validate(data.user),
            registrations=[
                ExportedRegistration(
                    **RegistrationRead.model_validate(registration).model_dump(),
                    event_name=event_name,
                    codes_resent=registration.codes_resent,
                    failed_attempts=registration.failed_attempts,
                    ticket_version=registration.ticket_version,
                    ticket_issued_at=registration.ticket_issued_at,
                )
                for registration, event_name in data.registrations
            ],
            waiting_entries=[
                ExportedWaitingEntry(
                    **WaitlistEntryRead.of(entry, position).model_dump(),
                    event_name=entry.event.name,
                    offered_at=entry.offered_at,
                    ended_at=entry.ended_at,
                )
                for entry, position in data.waiting_entries
            ],
            notices=[
                ExportedNotice(
                    id=message.id,
                    kind=message.topic,
                    text=message.masked_text,
                    status=OutboxStatus(message.status),
                    created_at=message.created_at,
                    sent_at=message.sent_at,
                )
                for message in data.notices
            ],
            check_ins=[
                ExportedScan(
                    registration_id=scan.registration_id,
                    event_id=scan.event_id,
                    result=ScanResult(scan.result) if scan.result else None,
                    scanned_at=scan.scanned_at,
                    received_at=scan.received_at,
                    checked_in_at=scan.checked_in_at,
                )
                for scan in data.scans
                if scan.registration_id is not None
            ],
            sessions=[
                ExportedSession(
                    started_at=token.created_at,
                    expires_at=token.expires_at,
                    rotated_at=token.rotated_at,
                    revoked_at=token.revoked_at,
                )
                for token in data.sessions
            ],
        )
