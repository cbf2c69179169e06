from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import insert_or_update, rowcount, utcnow
from app.sync.models import Lease, RunStatus, SyncRun


class SyncRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run: SyncRun) -> None:
        """Flushes at once, so that the run has its id."""
        self.session.add(run)
        await self.session.flush()

    async def get(self, run_id: int) -> SyncRun:
        return await self.session.get_one(SyncRun, run_id)

    async def update(self, run_id: int, values: dict[str, Any]) -> None:
        await self.session.execute(update(SyncRun).where(SyncRun.id == run_id).values(**values))

    async def fail_running(self, error: str, now: datetime) -> None:
        await self.session.execute(
            update(SyncRun)
            .where(SyncRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.FAILED, finished_at=now, error=error)
        )

    async def last_successful(self, source: str) -> SyncRun | None:
        query = (
            select(SyncRun)
            .where(SyncRun.status == RunStatus.SUCCESS, SyncRun.source == source)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def last_finished(self) -> SyncRun | None:
        query = (
            select(SyncRun)
            .where(SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def recent(self, limit: int) -> Sequence[SyncRun]:
        query = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()


class LeaseRepository:
    """Named expiring leases (see Lease). Every method is one statement, so that two replicas
    racing for a lease can never both win."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        now = utcnow()
        statement = insert_or_update(self.session, Lease).values(
            name=name, holder=holder, acquired_at=now, expires_at=now + ttl
        )
        returning = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"holder": holder, "acquired_at": now, "expires_at": now + ttl},
            where=or_(Lease.expires_at < now, Lease.holder == holder),
        ).returning(Lease.holder)
        return (await self.session.execute(returning)).scalar_one_or_none() == holder

    async def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        result = await self.session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() + ttl)
        )
        return bool(rowcount(result))

    async def release(self, name: str, holder: str) -> None:
        await self.session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
