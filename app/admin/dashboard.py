"""The figures on the admin's home page, each read with one cheap query."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository
from app.registrations.models import WaitlistEntry, WaitlistStatus
from app.registrations.repository import RegistrationRepository
from app.sync.models import SyncRun
from app.sync.repository import SyncRunRepository


@dataclass(frozen=True)
class Dashboard:
    events: int
    open_registrations: int
    waiting: int
    outbox_backlog: int
    outbox_dead: int
    last_sync: SyncRun | None


async def read_dashboard(session: AsyncSession, now: datetime) -> Dashboard:
    events = await session.scalar(select(func.count()).select_from(Event))
    open_registrations = await RegistrationRepository(session).count_active(now)
    waiting = await session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.stored_status == WaitlistStatus.WAITING)
    )
    outbox = await OutboxRepository(session).count_by_status()
    last_runs = await SyncRunRepository(session).recent(1)
    return Dashboard(
        events=events or 0,
        open_registrations=open_registrations,
        waiting=waiting or 0,
        outbox_backlog=outbox.get(OutboxStatus.PENDING, 0),
        outbox_dead=outbox.get(OutboxStatus.DEAD, 0),
        last_sync=last_runs[0] if last_runs else None,
    )
