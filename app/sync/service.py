"""Sync runs: one at a time across replicas, pages streamed from the provider and applied
in batches, every count and error recorded on the run (SPEC §6)."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database, UnitOfWork, utcnow
from app.core.tracing import span
from app.flows import ProviderUpdates
from app.provider.changes import BatchCounts
from app.provider.records import ProviderEvent, read_event
from app.sync.models import RunStatus, SyncRun
from app.sync.provider import EventsSource, ProviderError
from app.sync.repository import LeaseRepository, SyncRunRepository

logger = logging.getLogger(__name__)

SYNC_LEASE = "events-sync"
LEASE_TTL = timedelta(seconds=120)
# Records per unit of work: each costs a few round trips and a commit whatever its size (500
# upserted 12,000-15,000 events/s on PostgreSQL where 200 did 8,000-11,000: bench/README.md).
BATCH_SIZE = 500
READ_AHEAD_PAGES = 20


class SyncMode(StrEnum):
    ALL = "all"
    DATE = "date"
    INCREMENTAL = "incremental"


class LeaseLostError(Exception):
    def __init__(self) -> None:
        super().__init__("lost the sync lease to another replica")


@dataclass
class ActiveRun:
    """A run this process holds the lease for, and its progress so far."""

    id: int
    changed_since: date | None
    holder: str
    counts: BatchCounts = field(default_factory=BatchCounts)
    skipped: int = 0
    error: str | None = None


class SyncService:
    """Made once per process: `start` records a run in the caller's unit of work; `execute`
    then applies the provider's pages in units of work of its own, one per batch."""

    def __init__(
        self, database: Database, provider: EventsSource, updates: ProviderUpdates, tracer: Tracer
    ) -> None:
        self._database = database
        self._provider = provider
        self._updates = updates
        self._tracer = tracer

    async def start(
        self, work: UnitOfWork, mode: SyncMode, on_date: date | None = None
    ) -> ActiveRun | None:
        """Takes the lease and records a running run, or returns None while another runs.
        Execute the run only once `work` has committed: until then nobody sees its lease.

        An incremental run starts from the date the last successful run of the same source
        started (a day of overlap is harmless: upserts are idempotent); with no successful run
        of that source yet it is full.
        """
        holder = f"run-{uuid.uuid4()}"
        session = work.session
        if not await LeaseRepository(session).acquire(SYNC_LEASE, holder, LEASE_TTL):
            return None
        # Runs left `running` by a holder that died (we hold the lease now, so none is alive).
        await SyncRunRepository(session).fail_running(
            "abandoned: its holder stopped renewing the lease", utcnow()
        )
        source = self._provider.source
        mode, changed_since = await _resolve_window(session, source, mode, on_date)
        run = SyncRun(
            mode=mode, source=source, changed_since=changed_since, status=RunStatus.RUNNING
        )
        await SyncRunRepository(session).add(run)
        return ActiveRun(id=run.id, changed_since=changed_since, holder=holder)

    async def execute(self, active: ActiveRun) -> SyncRun:
        """Streams the provider's pages into the catalogue; always ends the run and the lease.
        A trace of its own, whoever started it.

        What was applied before a failure stays applied; the error is recorded on the run.
        """
        with span(self._tracer, "sync run", attributes={"sync.run_id": active.id}):
            return await self._execute(active)

    async def _execute(self, active: ActiveRun) -> SyncRun:
        batch: list[ProviderEvent] = []
        try:
            async for records in _read_ahead(self._provider.pages(active.changed_since)):
                batch.extend(_readable(active, records))
                if len(batch) >= BATCH_SIZE:
                    await self._apply(active, batch)
                    batch.clear()
            await self._apply(active, batch)
        except (ProviderError, LeaseLostError) as failure:
            active.error = str(failure)
            if isinstance(failure, ProviderError):
                await self._apply_what_was_read(active, batch)
        except asyncio.CancelledError:
            active.error = "interrupted by shutdown"
            raise
        except Exception as failure:
            logger.exception("sync run %d failed", active.id)
            active.error = f"internal error ({type(failure).__name__})"
        finally:
            run = await self._finish(active)
        return run

    async def run(self, mode: SyncMode, on_date: date | None = None) -> SyncRun | None:
        """Starts and executes a run at once; None while another run holds the lease."""
        async with self._database.transaction() as work:
            active = await self.start(work, mode, on_date)
        return None if active is None else await self.execute(active)

    async def _apply(self, active: ActiveRun, batch: Sequence[ProviderEvent]) -> None:
        """One unit of work: the batch, the run's counts so far, and the lease's renewal."""
        async with self._database.transaction() as work:
            if not await LeaseRepository(work.session).renew(SYNC_LEASE, active.holder, LEASE_TTL):
                raise LeaseLostError()
            active.counts.add(await self._updates.apply(work, batch))
            await _record_progress(work.session, active)

    async def _apply_what_was_read(self, active: ActiveRun, batch: Sequence[ProviderEvent]) -> None:
        try:
            await self._apply(active, batch)
        except LeaseLostError as lost:
            active.error = str(lost)

    async def _finish(self, active: ActiveRun) -> SyncRun:
        async with self._database.transaction() as work:
            await _record_progress(work.session, active, finished=True)
            await LeaseRepository(work.session).release(SYNC_LEASE, active.holder)
            run = await SyncRunRepository(work.session).get(active.id)
        log = logger.error if active.error else logger.info
        log("sync run %d %s: %s", run.id, run.status, summary(run))
        return run


async def _read_ahead(
    pages: AsyncIterator[list[Any]], depth: int = READ_AHEAD_PAGES
) -> AsyncIterator[list[Any]]:
    """Fetches up to `depth` pages while the caller writes the previous ones, so that the
    provider's latency and the database's overlap; memory stays bounded by `depth`."""
    queue: asyncio.Queue[list[Any] | BaseException | None] = asyncio.Queue(maxsize=depth)

    async def fetch() -> None:
        try:
            async for page in pages:
                await queue.put(page)
            await queue.put(None)
        except Exception as error:
            await queue.put(error)

    fetcher = asyncio.create_task(fetch())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        fetcher.cancel()
        with suppress(asyncio.CancelledError):
            await fetcher


def _readable(active: ActiveRun, records: list[Any]) -> list[ProviderEvent]:
    events = [read_event(record) for record in records]
    readable = [event for event in events if event is not None]
    active.skipped += len(events) - len(readable)
    return readable


async def _resolve_window(
    session: AsyncSession, source: str, mode: SyncMode, on_date: date | None
) -> tuple[SyncMode, date | None]:
    if mode is SyncMode.ALL:
        return mode, None
    if mode is SyncMode.DATE:
        return mode, on_date
    last = await SyncRunRepository(session).last_successful(source)
    if last is None:
        return SyncMode.ALL, None
    return mode, last.started_at.date()


async def _record_progress(
    session: AsyncSession, active: ActiveRun, *, finished: bool = False
) -> None:
    values: dict[str, Any] = {
        "created": active.counts.created,
        "updated": active.counts.updated,
        "unchanged": active.counts.unchanged,
        "skipped": active.skipped,
    }
    if finished:
        status = RunStatus.FAILED if active.error else RunStatus.SUCCESS
        values |= {"status": status, "error": active.error, "finished_at": utcnow()}
    await SyncRunRepository(session).update(active.id, values)


def summary(run: SyncRun) -> str:
    text = (
        f"source={run.source or '-'} mode={run.mode} changed_since={run.changed_since or '-'} "
        f"created={run.created} updated={run.updated} unchanged={run.unchanged} "
        f"skipped={run.skipped}"
    )
    return f"{text} error={run.error}" if run.error else text


async def recent_runs(work: UnitOfWork, limit: int) -> Sequence[SyncRun]:
    return await SyncRunRepository(work.session).recent(limit)


async def last_finished_run(work: UnitOfWork) -> SyncRun | None:
    return await SyncRunRepository(work.session).last_finished()
