"""Registering visitors, confirming them by a code sent through the outbox, cancelling."""

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.errors import (
    AppError,
    ConflictError,
    NotFoundError,
    TooManyRequestsError,
    UnprocessableError,
)
from app.core.pagination import Page, PageRequest, page_links
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository
from app.registrations.models import IdempotencyKey, Registration, RegistrationStatus, email_key
from app.registrations.repository import IdempotencyKeyRepository, RegistrationRepository
from app.registrations.schemas import (
    NotificationStatus,
    RegistrationCreate,
    RegistrationDetail,
    RegistrationRead,
)

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
CODE_TOPIC = "registration.code"
CANCELLATION_TOPIC = "registration.cancelled"
NOTIFICATION_STATUSES = {
    OutboxStatus.PENDING: NotificationStatus.QUEUED,
    OutboxStatus.SENT: NotificationStatus.SENT,
    OutboxStatus.DEAD: NotificationStatus.FAILED,
}


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _fingerprint(event_id: uuid.UUID, data: RegistrationCreate) -> str:
    request = {"event_id": str(event_id), **data.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


class RegistrationService:
    def __init__(self, session: AsyncSession, secret_key: str, outbox_wake: asyncio.Event):
        self.session = session
        self.secret = secret_key.encode()
        self.outbox_wake = outbox_wake
        self.registrations = RegistrationRepository(session)
        self.keys = IdempotencyKeyRepository(session)
        self.outbox = OutboxRepository(session)

    def _code_hash(self, registration_id: uuid.UUID, code: str) -> str:
        """A keyed hash, bound to the registration: a 6-digit code has too few values for
        a plain hash to hide it."""
        message = f"{registration_id}:{code}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    async def _commit_and_wake(self) -> None:
        await self.session.commit()
        self.outbox_wake.set()

    async def register(
        self,
        user_id: uuid.UUID,
        event_id: uuid.UUID,
        data: RegistrationCreate,
        idempotency_key: str | None,
    ) -> tuple[int, dict[str, Any]]:
        """Returns the status and body of the response: a new registration, or the first
        response to the same request under the same Idempotency-Key."""
        fingerprint = _fingerprint(event_id, data)
        if idempotency_key and (
            replay := await self._replay(user_id, idempotency_key, fingerprint)
        ):
            return replay
        try:
            body = await self._register(user_id, event_id, data)
            if idempotency_key:
                await self._remember(user_id, idempotency_key, fingerprint, body)
            await self._commit_and_wake()
        except IntegrityError:
            await self.session.rollback()
            # A concurrent request won the race: the same key, or the same email.
            if idempotency_key and (
                replay := await self._replay(user_id, idempotency_key, fingerprint)
            ):
                return replay
            raise ConflictError("This email is already registered for this event.") from None
        except AppError:
            await self.session.rollback()
            raise
        return HTTPStatus.CREATED, body

    async def _register(
        self, user_id: uuid.UUID, event_id: uuid.UUID, data: RegistrationCreate
    ) -> dict[str, Any]:
        event = await self.registrations.get_event(event_id)
        if event is None:
            raise NotFoundError("Event not found.")
        if not event.registration_is_open(utcnow()):
            raise ConflictError("Registration for this event is closed.")
        key = email_key(data.email)
        if await self.registrations.email_is_registered(event_id, key):
            raise ConflictError("This email is already registered for this event.")
        if not await self.registrations.take_seat(event_id):
            raise ConflictError("No seats left for this event.")
        code = new_code()
        message = await self.outbox.add(
            CODE_TOPIC,
            {
                "email": data.email,
                "message": f"Здравствуйте, {data.full_name}! Ваш код подтверждения: {code}",
            },
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
        await self.registrations.add(registration)
        logger.info(
            "registration created",
            extra={"registration_id": str(registration.id), "event_id": str(event_id)},
        )
        return RegistrationRead.model_validate(registration).model_dump(mode="json")

    async def _replay(
        self, user_id: uuid.UUID, key: str, fingerprint: str
    ) -> tuple[int, dict[str, Any]] | None:
        record = await self.keys.get(user_id, key)
        if record is None:
            return None
        if record.expires_at <= utcnow():
            await self.keys.delete(record)
            return None
        if not hmac.compare_digest(record.fingerprint, fingerprint):
            raise UnprocessableError(
                "This Idempotency-Key was already used with a different request."
            )
        return record.status_code, record.response_body

    async def _remember(
        self, user_id: uuid.UUID, key: str, fingerprint: str, body: dict[str, Any]
    ) -> None:
        now = utcnow()
        await self.keys.add(
            IdempotencyKey(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint,
                status_code=HTTPStatus.CREATED,
                response_body=body,
                created_at=now,
                expires_at=now + IDEMPOTENCY_KEY_TTL,
            )
        )

    async def _get(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> Registration:
        registration = await self.registrations.get_for_user(registration_id, user_id)
        if registration is None:
            raise NotFoundError("Registration not found.")
        return registration

    async def confirm(
        self, user_id: uuid.UUID, registration_id: uuid.UUID, code: str
    ) -> RegistrationRead:
        registration = await self._get(user_id, registration_id)
        if registration.status == RegistrationStatus.CONFIRMED:
            return RegistrationRead.model_validate(registration)
        if registration.status == RegistrationStatus.CANCELLED:
            raise ConflictError("This registration is cancelled.")
        if registration.locked:
            raise TooManyRequestsError("Too many wrong codes: this registration is locked.")
        expected = registration.code_hash
        if hmac.compare_digest(expected, self._code_hash(registration.id, code)):
            confirmed = await self.registrations.confirm(registration.id, utcnow())
            wrong = False
        else:
            confirmed = False
            wrong = await self.registrations.count_failed_attempt(registration.id)
        await self.session.commit()
        await self.session.refresh(registration)
        if confirmed or registration.status == RegistrationStatus.CONFIRMED:
            return RegistrationRead.model_validate(registration)
        if wrong:
            raise AppError("Wrong confirmation code.")
        raise TooManyRequestsError("Too many wrong codes: this registration is locked.")

    async def cancel(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> RegistrationRead:
        """Cancels, frees the seat and queues a cancellation notice; cancelling again changes
        nothing."""
        registration = await self._get(user_id, registration_id)
        if await self.registrations.cancel(registration.id, utcnow()):
            await self.registrations.free_seat(registration.event_id)
            message = await self.outbox.add(
                CANCELLATION_TOPIC,
                {
                    "email": registration.email,
                    "message": f"Здравствуйте, {registration.full_name}! "
                    "Ваша регистрация на мероприятие отменена.",
                },
            )
            registration.cancel_message_id = message.id
            await self._commit_and_wake()
        await self.session.refresh(registration)
        return RegistrationRead.model_validate(registration)

    async def get(self, user_id: uuid.UUID, registration_id: uuid.UUID) -> RegistrationDetail:
        registration = await self._get(user_id, registration_id)
        message_id = registration.cancel_message_id or registration.code_message_id
        status = await self.outbox.status_of(message_id) if message_id else None
        return RegistrationDetail(
            **RegistrationRead.model_validate(registration).model_dump(),
            notification_status=NOTIFICATION_STATUSES.get(status) if status else None,
        )

    async def list_mine(
        self, user_id: uuid.UUID, page: PageRequest, request: Request
    ) -> Page[RegistrationRead]:
        count = await self.registrations.count_for_user(user_id)
        page.require_exists(count)
        rows = await self.registrations.page_for_user(
            user_id, offset=page.offset, limit=page.page_size
        )
        next_url, previous_url = page_links(request, page, count)
        results = [RegistrationRead.model_validate(row) for row in rows]
        return Page[RegistrationRead](
            count=count, next=next_url, previous=previous_url, results=results
        )

    async def purge_expired_keys(self) -> int:
        deleted = await self.keys.purge_expired(utcnow())
        await self.session.commit()
        return deleted
