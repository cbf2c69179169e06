"""Operator actions on the outbox and its gauges."""

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.metrics import Metrics
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository

logger = logging.getLogger(__name__)


class OutboxService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.messages = OutboxRepository(session)

    async def requeue_dead(self, ids: Sequence[uuid.UUID] | None = None) -> int:
        """Gives dead messages (all, or those of `ids`) a fresh set of attempts."""
        count = await self.messages.requeue_dead(ids, utcnow())
        await self.session.commit()
        logger.info("outbox: requeued %d dead messages", count)
        return count

    async def refresh_gauges(self, metrics: Metrics) -> None:
        counts = await self.messages.count_by_status()
        metrics.outbox_backlog.set(counts.get(OutboxStatus.PENDING, 0))
        metrics.outbox_dead.set(counts.get(OutboxStatus.DEAD, 0))
