"""The sync's upserts are bulk, on both databases: a batch costs the same statements whatever its
size, writes what a record-by-record upsert would, and on PostgreSQL reads the stored events
through the primary key's index even with a plan made while the table was empty."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql

from app.core.database import Database, rows_by_key
from app.events.models import Event, Venue
from app.events.service import Catalogue
from app.events.version import LatestVersion
from app.provider.records import ProviderEvent, read_event
from app.sync.generator import generate_events


def provider_events(count: int, **fields: object) -> list[ProviderEvent]:
    records = [read_event(record | fields) for record in generate_events(count, seed=7)]
    return [record for record in records if record is not None]


async def statements_to_apply(db: Database, records: list[ProviderEvent]) -> int:
    """The statements the unit of work applying `records` sent on its own connection (the
    engine's other users, such as a sweep left running, do not count)."""
    executed: list[object] = []

    def count(connection, _cursor, _statement, *_args) -> None:
        executed.append(connection)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.transaction() as work:
            own = (await work.session.connection()).sync_connection
            await Catalogue(work, LatestVersion(0)).apply(records)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return sum(connection is own for connection in executed)


async def test_a_batch_costs_the_same_statements_whatever_its_size(db):
    records = provider_events(600)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    created = [await statements_to_apply(db, records[:n]) for n in (5, 300)]
    unchanged = [await statements_to_apply(db, records[:n]) for n in (5, 300)]
    updated = [
        await statements_to_apply(db, provider_events(n, changed_at=later)) for n in (5, 300)
    ]

    assert created[0] == created[1]
    assert unchanged[0] == unchanged[1]
    assert updated[0] == updated[1]


async def test_a_batch_writes_every_event_with_its_venues_capacity(db):
    records = provider_events(300)
    async with db.transaction() as work:
        applied = await Catalogue(work, LatestVersion(0)).apply(records)

    async with db.transaction() as work:
        stored = {
            row.id: row
            for row in await work.session.execute(
                select(
                    Event.id, Event.name, Event.capacity, Venue.capacity.label("seats")
                ).outerjoin(Venue, Venue.id == Event.venue_id)
            )
        }
    assert (applied.counts.created, applied.counts.updated, applied.counts.unchanged) == (300, 0, 0)
    assert applied.changes == []  # nobody registered: nothing for registrations to follow
    assert {record.id: record.name for record in records} == {
        row.id: row.name for row in stored.values()
    }
    assert all(row.capacity == row.seats for row in stored.values())
    assert any(row.capacity is not None for row in stored.values())


@pytest.mark.postgresql_only(
    "SQLite plans each statement afresh, and reads an IN list by the index"
)
async def test_stored_events_are_read_through_the_index_by_a_plan_made_on_an_empty_table(db):
    async with db.transaction() as work:
        assert await work.session.scalar(select(func.count()).select_from(Event)) == 0
        lookup = rows_by_key(work.session, Event.id, [], Event.id, Event.changed_at)
        sql = str(lookup.compile(dialect=postgresql.asyncpg.dialect()))
        await work.session.execute(
            select(func.set_config("plan_cache_mode", "force_generic_plan", True))
        )
        connection = await work.session.connection()
        name = f"stored_events_{uuid.uuid4().hex}"
        await connection.exec_driver_sql(f"PREPARE {name} AS {sql}")
        explained = await connection.exec_driver_sql(f"EXPLAIN EXECUTE {name}('{{}}', 0)")
        plan = "\n".join(row[0] for row in explained)
        await connection.exec_driver_sql(f"DEALLOCATE {name}")

    assert "Index Scan using pk_events" in plan
    assert "Seq Scan on events" not in plan
