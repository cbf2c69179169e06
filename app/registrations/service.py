"""Registering visitors, confirming them by a code sent through the outbox, cancelling."""

import asyncio
import hashlib
import hmac
import logging
import secrets
import uuid

from sqlalchemy.exc import IntegrityError

from app.core.database import UnitOfWork, utcnow
from app.core.pagination import Found, PageRequest
from app.events.service import Catalogue
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository
from app.outbox.service import Outbox
from app.registrations import notices
from app.registrations.errors import (
    AlreadyRegisteredError,
    EventFullError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationLockedError,
    RegistrationNotFoundError,
    WrongCodeError,
)
from app.registrations.models import Registration, RegistrationStatus, email_key
from app.registrations.repository import RegistrationRepository
from app.registrations.schemas import NotificationStatus, RegistrationCreate

logger = logging.getLogger(__name__)

NOTIFICATION_STATUSES = {
    OutboxStatus.PENDING: NotificationStatus.QUEUED,
    OutboxStatus.SENT: NotificationStatus.SENT,
    OutboxStatus.DEAD: NotificationStatus.FAILED,
}


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


class RegistrationService:
    """The registration rules, in the caller's unit of work."""

    def __init__(self, work: UnitOfWork, secret_key: str, relay_wake: asyncio.Event) -> None:
        self.secret = secret_key.encode()
        self.registrations = RegistrationRepository(work.session)
        self.catalogue = Catalogue(work)
        self.outbox = Outbox(work, relay_wake)
        self.messages = OutboxRepository(work.session)

    def _code_hash(self, registration_id: uuid.UUID, code: str) -> str:
        """A keyed hash, bound to the registration: a 6-digit code has too few values for
        a plain hash to hide it."""
        message = f"{registration_id}:{code}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    async def register(
        self, user_id: uuid.UUID, event_id: uuid.UUID, data: RegistrationCreate
    ) -> Registration:
        event = await self.catalogue.event(event_id)
        if not event.registration_is_open(utcnow()):
            raise RegistrationClosedError()
        key = email_key(data.email)
        if await self.registrations.email_is_registered(event_id, key):
            raise AlreadyRegisteredError()
        if not await self.catalogue.take_seat(event_id):
            raise EventFullError()
        code = new_code()
        message = await self.outbox.put(
            notices.Notice.CODE, data.email, notices.code_text(data.full_name, code)
        )
        registration = Registration(
            id=uuid.uuid4(),
            event_id=event_id,
            user_id=user_id,
            full_name=data.full_name,
            email=data.email,
            email_key=key,
            code_message_id=message.id,
        )
        registration.code_hash = self._code_hash(registration.id, code)
        try:
            await self.registrations.add(registration)
        except IntegrityError:  # a concurrent request registered the same email meanwhile
            raise AlreadyRegisteredError() from None
        logger.info(
            "registration created",
            extra={"registration_id": str(registration.id), "event_id": str(event_id)},
        )
        return registration

    async def _get(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        registration = await self.registrations.get_for_user(registration_id, user_id)
        if registration is None:
            raise RegistrationNotFoundError()
        return registration

    async def confirm(
        self, user_id: uuid.UUID, registration_id: uuid.UUID, code: str
    ) -> Registration:
        registration = await self._get(user_id, registration_id)
        if registration.status == RegistrationStatus.CONFIRMED:
            return registration
        if registration.status == RegistrationStatus.CANCELLED:
            raise RegistrationCancelledError()
        if registration.locked:
            raise RegistrationLockedError()
        if not hmac.compare_digest(registration.code_hash, self._code_hash(registration.id, code)):
            if await self.registrations.count_failed_attempt(registration.id):
                raise WrongCodeError()
            raise RegistrationLockedError()  # locked by a concurrent wrong code meanwhile
        await self.registrations.confirm(registration.id, utcnow())
        await self.registrations.refresh(registration)
        if registration.status == RegistrationStatus.CANCELLED:  # cancelled meanwhile
            raise RegistrationCancelledError()
        if registration.status != RegistrationStatus.CONFIRMED:  # locked meanwhile
            raise RegistrationLockedError()
        return registration

    async def cancel(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        """Cancels, frees the seat and queues a cancellation notice; cancelling again changes
        nothing."""
        registration = await self._get(user_id, registration_id)
        if await self.registrations.cancel(registration.id, utcnow()):
            await self.catalogue.free_seat(registration.event_id)
            message = await self.outbox.put(
                notices.Notice.CANCELLED,
                registration.email,
                notices.cancelled_text(registration.full_name),
            )
            registration.cancel_message_id = message.id
        await self.registrations.refresh(registration)
        return registration

    async def get(
        self, user_id: uuid.UUID, registration_id: uuid.UUID
    ) -> tuple[Registration, NotificationStatus | None]:
        """The registration, and how delivering its latest notice went."""
        registration = await self._get(user_id, registration_id)
        message_id = registration.cancel_message_id or registration.code_message_id
        status = await self.messages.status_of(message_id) if message_id else None
        return registration, NOTIFICATION_STATUSES.get(status) if status else None

    async def list_mine(self, user_id: uuid.UUID, page: PageRequest) -> Found[Registration]:
        count = await self.registrations.count_for_user(user_id)
        rows = await self.registrations.page_for_user(
            user_id, offset=page.offset, limit=page.page_size
        )
        return Found(rows, count)
