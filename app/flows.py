"""How a batch of provider records flows through the house, the one path the sync and the stream
consumer both take: into the catalogue (app.events), then the registrations and waiting
entries follow what changed (app.registrations.lifecycle), queuing their notices in the outbox —
all in the caller's unit of work.

Its own module above the domains it joins, so that none of them imports another to reach it:
the provider's record and change types (app.provider) sit below all of them."""

from collections.abc import Sequence

from app.core.database import UnitOfWork
from app.provider.changes import BatchCounts
from app.provider.records import ProviderEvent
from app.registrations.lifecycle import Lifecycle, Surroundings


class ProviderUpdates:
    """Applies provider records for the sync and the stream consumer; made once per process."""

    def __init__(self, around: Surroundings) -> None:
        self._around = around

    async def apply(self, work: UnitOfWork, records: Sequence[ProviderEvent]) -> BatchCounts:
        lifecycle = Lifecycle(work, self._around)
        applied = await lifecycle.catalogue.apply(records)
        await lifecycle.follow(applied.changes)
        return applied.counts
