"""The background work, wired once: the app's lifespan starts what its settings ask for, and
the CLI's `worker` and `consume` start one job each. Every job runs its own units of work."""

from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum

from app.auth.service import purge_expired_tokens
from app.container import Container
from app.core.database import UnitOfWork
from app.events.service import Catalogue
from app.idempotency.service import purge_expired_keys
from app.outbox.relay import OutboxRelay
from app.outbox.service import OUTBOX_CHANNEL
from app.registrations.lifecycle import sweep
from app.sync.service import SyncMode
from app.tickets.reminders import send_due_reminders

HOURLY = 3600.0
DAILY = 86400.0


class Job(StrEnum):
    TOKEN_PURGE = "token-purge"  # noqa: S105 - a job name
    IDEMPOTENCY_KEY_PURGE = "idempotency-key-purge"
    EVENT_CLEANUP = "event-cleanup"
    EVENTS_SYNC = "events-sync"
    OUTBOX_RELAY = "outbox-relay"
    STREAM_CONSUMER = "stream-consumer"
    HOLD_SWEEP = "hold-sweep"
    REMINDERS = "reminders"


def jobs_for_the_app(container: Container) -> list[Job]:
    """What the lifespan runs: the purges and the cleanup always, the rest as configured."""
    settings = container.settings
    jobs = [Job.TOKEN_PURGE, Job.IDEMPOTENCY_KEY_PURGE, Job.EVENT_CLEANUP, Job.HOLD_SWEEP]
    if settings.sync_interval_seconds:
        jobs.append(Job.EVENTS_SYNC)
    if settings.outbox_relay_enabled:
        jobs.append(Job.OUTBOX_RELAY)
    if container.stream_consumer is not None:
        jobs.append(Job.STREAM_CONSUMER)
    if settings.reminder_offsets:
        jobs.append(Job.REMINDERS)
    return jobs


def start_jobs(container: Container, jobs: Iterable[Job]) -> None:
    for job in jobs:
        _START[job](container)


Step = Callable[[Container, UnitOfWork], Awaitable[object]]


def _in_a_unit_of_work(
    job: Job, interval_seconds: float, step: Step
) -> Callable[[Container], None]:
    """A job that runs `step` in a unit of work of its own, now and every interval."""

    def start(container: Container) -> None:
        async def run_once() -> None:
            async with container.database.transaction() as work:
                await step(container, work)

        container.background.every(job, interval_seconds, run_once)

    return start


async def _delete_ended_events(container: Container, work: UnitOfWork) -> None:
    catalogue = Catalogue(work, container.catalogue_version)
    await catalogue.delete_ended(container.settings.event_retention_days)


def _sync_events(container: Container) -> None:
    async def sync() -> None:
        await container.sync.run(SyncMode.INCREMENTAL)

    container.background.every(Job.EVENTS_SYNC, container.settings.sync_interval_seconds, sync)


def _sweep_holds(container: Container) -> None:
    async def sweep_once() -> None:
        await sweep(container.database, container.surroundings)

    container.background.every(
        Job.HOLD_SWEEP, container.settings.hold_sweep_interval_seconds, sweep_once
    )


def _send_reminders(container: Container) -> None:
    async def remind_once() -> None:
        await send_due_reminders(container.database, container.surroundings)

    container.background.every(
        Job.REMINDERS, container.settings.reminder_interval_seconds, remind_once
    )


def outbox_relay(container: Container) -> OutboxRelay:
    return OutboxRelay(
        container.database,
        container.notifications_http,
        container.settings,
        container.metrics,
        container.relay_wake,
        container.tracer,
    )


def _relay_outbox(container: Container) -> None:
    container.listener.subscribe(OUTBOX_CHANNEL, container.relay_wake.set)
    container.background.run(Job.OUTBOX_RELAY, outbox_relay(container).run)


def _consume_stream(container: Container) -> None:
    assert container.stream_consumer is not None, "BROKER_URL names no stream"
    container.background.run(Job.STREAM_CONSUMER, container.stream_consumer.run)


_START: dict[Job, Callable[[Container], None]] = {
    Job.TOKEN_PURGE: _in_a_unit_of_work(
        Job.TOKEN_PURGE, HOURLY, lambda _container, work: purge_expired_tokens(work)
    ),
    Job.IDEMPOTENCY_KEY_PURGE: _in_a_unit_of_work(
        Job.IDEMPOTENCY_KEY_PURGE, HOURLY, lambda _container, work: purge_expired_keys(work)
    ),
    Job.EVENT_CLEANUP: _in_a_unit_of_work(Job.EVENT_CLEANUP, DAILY, _delete_ended_events),
    Job.EVENTS_SYNC: _sync_events,
    Job.OUTBOX_RELAY: _relay_outbox,
    Job.STREAM_CONSUMER: _consume_stream,
    Job.HOLD_SWEEP: _sweep_holds,
    Job.REMINDERS: _send_reminders,
}
