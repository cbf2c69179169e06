import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.registrations.models import MAX_FAILED_CONFIRMATIONS, Registration, RegistrationStatus


def _pending_and_unlocked(registration_id: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    return (
        Registration.id == registration_id,
        Registration.status == RegistrationStatus.PENDING,
        Registration.failed_attempts < MAX_FAILED_CONFIRMATIONS,
    )


class RegistrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def email_is_registered(self, event_id: uuid.UUID, email_key: str) -> bool:
        found = await self.session.scalar(
            select(Registration.id).where(
                Registration.event_id == event_id,
                Registration.email_key == email_key,
                Registration.status != RegistrationStatus.CANCELLED,
            )
        )
        return found is not None

    async def add(self, registration: Registration) -> None:
        """Flushes at once: the unique index on active emails fails here, not at commit."""
        self.session.add(registration)
        await self.session.flush()

    async def refresh(self, registration: Registration) -> None:
        """Writes the registration's pending changes, then reads it back as stored."""
        await self.session.flush()
        await self.session.refresh(registration)

    async def get_for_user(
        self, registration_id: uuid.UUID, user_id: uuid.UUID
    ) -> Registration | None:
        return await self.session.scalar(
            select(Registration).where(
                Registration.id == registration_id, Registration.user_id == user_id
            )
        )

    async def count_for_user(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Registration).where(Registration.user_id == user_id)
        )
        return count or 0

    async def page_for_user(
        self, user_id: uuid.UUID, *, offset: int, limit: int
    ) -> Sequence[Registration]:
        rows = await self.session.scalars(
            select(Registration)
            .where(Registration.user_id == user_id)
            .order_by(Registration.created_at.desc(), Registration.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all()

    async def count_failed_attempt(self, registration_id: uuid.UUID) -> bool:
        """Counts a wrong code; False when the registration was locked (or confirmed, or
        cancelled) meanwhile."""
        result = await self.session.execute(
            update(Registration)
            .where(*_pending_and_unlocked(registration_id))
            .values(failed_attempts=Registration.failed_attempts + 1)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def confirm(self, registration_id: uuid.UUID, now: datetime) -> bool:
        """Confirms a pending registration that is not locked; False otherwise."""
        result = await self.session.execute(
            update(Registration)
            .where(*_pending_and_unlocked(registration_id))
            .values(status=RegistrationStatus.CONFIRMED, confirmed_at=now)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def cancel(self, registration_id: uuid.UUID, now: datetime) -> bool:
        """Cancels a registration that is not cancelled yet; False when it already was."""
        result = await self.session.execute(
            update(Registration)
            .where(
                Registration.id == registration_id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
            .values(status=RegistrationStatus.CANCELLED, cancelled_at=now)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]
