"""The door's records: the scans of tickets, and the reminder rounds done. (A registration's
ticket fields are written by app.registrations.repository, their one owner.)"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.database import dialect_name, insert_upsert, rowcount
from app.events.models import Event
from app.provider.records import CANCELLED_PROVIDER_STATUS
from app.tickets.models import CheckinScan, EventReminder

SCANS = CheckinScan.__table__
REMINDERS = EventReminder.__table__


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scan_by_nonce(self, nonce: str) -> CheckinScan | None:
        return await self.session.scalar(
            select(CheckinScan)
            .where(CheckinScan.nonce == nonce)
            .options(joinedload(CheckinScan.registration))
        )

    async def claim_scan(self, values: dict[str, Any]) -> bool:
        """Writes the scan unless one with its nonce exists; on PostgreSQL a concurrent scan
        with the same nonce waits until the first one's unit of work ends, and then finds it."""
        statement = insert_upsert(dialect_name(self.session), SCANS).on_conflict_do_nothing(
            index_elements=[SCANS.c.nonce]
        )
        return rowcount(await self.session.execute(statement, values)) == 1

    async def record_result(self, scan_id: uuid.UUID, **values: object) -> None:
        await self.session.execute(update(SCANS).where(SCANS.c.id == scan_id).values(**values))

    async def scans_of(self, registration_ids: Sequence[uuid.UUID]) -> Sequence[CheckinScan]:
        """Every scan of these registrations' tickets, oldest first."""
        if not registration_ids:
            return []
        rows = await self.session.scalars(
            select(CheckinScan)
            .where(CheckinScan.registration_id.in_(registration_ids))
            .order_by(CheckinScan.received_at, CheckinScan.id)
        )
        return rows.all()

    async def events_due_a_reminder(
        self, offset_seconds: int, now: datetime, until: datetime
    ) -> list[tuple[uuid.UUID, datetime]]:
        """Events that start after `now` and by `until` (now + the offset), not cancelled,
        whose reminder round for this offset and their time is not done yet."""
        done = exists().where(
            REMINDERS.c.event_id == Event.id,
            REMINDERS.c.offset_seconds == offset_seconds,
            REMINDERS.c.event_time == Event.event_time,
        )
        result = await self.session.execute(
            select(Event.id, Event.event_time).where(
                Event.event_time > now,
                Event.event_time <= until,
                Event.provider_status != CANCELLED_PROVIDER_STATUS,
                ~done,
            )
        )
        return [(event_id, event_time) for event_id, event_time in result if event_time]

    async def start_reminder_round(
        self, event_id: uuid.UUID, offset_seconds: int, event_time: datetime
    ) -> bool:
        """Claims the round; False when another process did (it waits for that one's unit of
        work on PostgreSQL, so a round that rolled back is claimed again)."""
        statement = insert_upsert(dialect_name(self.session), REMINDERS).on_conflict_do_nothing()
        values = {
            "event_id": event_id,
            "offset_seconds": offset_seconds,
            "event_time": event_time,
            "recipients": 0,
        }
        return rowcount(await self.session.execute(statement, values)) == 1

    async def finish_reminder_round(
        self, event_id: uuid.UUID, offset_seconds: int, event_time: datetime, recipients: int
    ) -> None:
        await self.session.execute(
            update(REMINDERS)
            .where(
                REMINDERS.c.event_id == event_id,
                REMINDERS.c.offset_seconds == offset_seconds,
                REMINDERS.c.event_time == event_time,
            )
            .values(recipients=recipients)
        )
