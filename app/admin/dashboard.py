"""The figures on the admin's home page, each read with one cheap query."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository
from app.registrations.models import Registration, RegistrationStatus, WaitlistEntry, WaitlistStatus
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


def _open_registrations(now: datetime) -> Select[int]:
    """Confirmed, or pending with the hold still running: the seats visitors have now."""
    holding = (Registration.stored_status == RegistrationStatus.PENDING) & (
        Registration.expires_at > now
    )
    confirmed = Registration.stored_status == RegistrationStatus.CONFIRMED
    return select(func.count()).select_from(Registration).where(or_(confirmed, holding))


async def read_dashboard(session: AsyncSession, now: datetime) -> Dashboard:
    events = await session.scalar(select(func.count()).select_from(Event))
    open_registrations = await session.scalar(_open_registrations(now))
    waiting = await session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.stored_status == WaitlistStatus.WAITING)
    )
    outbox = await OutboxRepository(session).count_by_status()
    last_runs = await SyncRunRepository(session).recent(1)
    return Dashboard(
        events=events or 0,
        open_registrations=open_registrations or 0,
        waiting=waiting or 0,
        outbox_backlog=outbox.get(OutboxStatus.PENDING, 0),
        outbox_dead=outbox.get(OutboxStatus.DEAD, 0),
        last_sync=last_runs[0] if last_runs else None,
    )
