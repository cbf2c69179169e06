"""UnitOfWork.commit_with: a unit of work's last writes, which PostgreSQL gets with the COMMIT in
one message. Seen from a second connection, while the block that wrote is still open."""

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.core.database import Database, UnitOfWork, create_engine, utcnow
from app.core.last_write import LastWrite, sql_literal
from app.events.models import Event
from app.events.repository import TAKE_SEAT
from app.outbox.models import OutboxMessage
from app.outbox.repository import OutboxRepository
from tests.support.events import event_with_seats


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A database whose units of work commit for real (the test's rows stay: see conftest)."""
    database = Database(create_engine(database_url))
    try:
        yield database
    finally:
        await database.dispose()


def take_seat(event_id: uuid.UUID) -> LastWrite:
    now = utcnow()
    return LastWrite(
        TAKE_SEAT, {"event_id": event_id, "hold_ends": now + timedelta(minutes=5), "now": now}
    )


def add_user(work: UnitOfWork) -> uuid.UUID:
    """A user added to the session, not flushed."""
    user_id = uuid.uuid4()
    work.session.add(User(id=user_id, username=f"u-{user_id.hex[:8]}", password_hash="x"))
    return user_id


async def seen(database: Database, event_id: uuid.UUID, user_id: uuid.UUID) -> tuple[int, bool]:
    """The seats taken and whether the user exists, as another connection sees them now."""
    async with database.reading() as connection:
        taken = await connection.scalar(
            select(Event.registrations_count).where(Event.id == event_id)
        )
        user = await connection.scalar(select(User.id).where(User.id == user_id))
    return taken or 0, user is not None


async def seen_meanwhile(
    database: Database, event_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[int, bool] | None:
    """`seen` while a unit of work is open; None on SQLite, where every transaction takes the
    database's one write lock (a second connection waits for the first to end)."""
    if database.dialect == "sqlite":
        return None
    return await seen(database, event_id, user_id)


def on_postgres(database: Database, expected: tuple[int, bool]) -> tuple[int, bool] | None:
    return expected if database.dialect == "postgresql" else None


async def test_a_last_write_that_changes_a_row_commits_with_everything_before_it(database):
    event = await event_with_seats(database, 1)
    async with database.transaction() as work:
        user_id = add_user(work)  # flushed by commit_with, before the message
        assert await work.commit_with(take_seat(event.id))
        meanwhile = await seen_meanwhile(database, event.id, user_id)

    assert meanwhile == on_postgres(database, (1, True))  # the message held the COMMIT
    assert await seen(database, event.id, user_id) == (1, True)


async def test_a_last_write_that_changes_no_row_is_left_out_and_the_work_goes_on(database):
    event = await event_with_seats(database, 1)
    async with database.transaction() as work:
        assert await work.commit_with(take_seat(event.id))
    async with database.transaction() as work:
        user_id = add_user(work)
        assert not await work.commit_with(take_seat(event.id))  # the one seat is taken
        meanwhile = await seen_meanwhile(database, event.id, user_id)
        later_id = add_user(work)

    assert meanwhile == on_postgres(database, (1, False))
    assert await seen(database, event.id, user_id) == (1, True)
    assert (await seen(database, event.id, later_id))[1]


async def test_inside_a_savepoint_a_last_write_waits_for_the_block_to_commit(database):
    event = await event_with_seats(database, 1)
    async with database.transaction() as work:
        user_id = add_user(work)
        async with work.savepoint():
            assert await work.commit_with(take_seat(event.id))
        meanwhile = await seen_meanwhile(database, event.id, user_id)

    assert meanwhile == on_postgres(database, (0, False))
    assert await seen(database, event.id, user_id) == (1, True)


async def test_the_writes_before_it_go_with_it_all_of_them_or_none(database):
    event = await event_with_seats(database, 1)
    sent = await sent_with_a_seat(database, event.id, "sent")
    async with database.transaction() as work:
        user_id = add_user(work)
        left_out = message(work, "left out")
        assert not await work.commit_with(left_out, take_seat(event.id))  # no seat left
        later_id = add_user(work)

    assert await texts(database, sent, left_out) == ["sent"]
    assert (await seen(database, event.id, user_id))[1]
    assert (await seen(database, event.id, later_id))[1]


async def test_a_write_a_unique_index_refuses_makes_none_of_them_and_the_work_goes_on(database):
    event = await event_with_seats(database, 2)
    first = await sent_with_a_seat(database, event.id, "first")
    async with database.transaction() as work:
        user_id = add_user(work)  # written first: on PostgreSQL the two then go in the message
        again = LastWrite(first.statement, {**first.values, "masked_text": "again"})
        assert not await work.commit_with(take_seat(event.id), again)  # the same id

    assert await texts(database, first) == ["first"]
    assert await seen(database, event.id, user_id) == (1, True)  # the seat went back too


async def sent_with_a_seat(database: Database, event_id: uuid.UUID, text: str) -> LastWrite:
    async with database.transaction() as work:
        sent = message(work, text)
        assert await work.commit_with(sent, take_seat(event_id))
    return sent


def message(work: UnitOfWork, text: str) -> LastWrite:
    return OutboxRepository(work.session).new_message(
        uuid.uuid4(), "test", {"message": text}, user_id=None, masked_text=text, traceparent=None
    )


async def texts(database: Database, *messages: LastWrite) -> list[str]:
    """The texts of those of `messages` that were written, as another connection reads them."""
    ids = [message.values["id"] for message in messages]
    async with database.reading() as connection:
        rows = await connection.execute(
            select(OutboxMessage.masked_text, OutboxMessage.payload).where(
                OutboxMessage.id.in_(ids)
            )
        )
        return [text for text, payload in rows if payload == {"message": text}]


# What could end a literal, or be read as more than text in one.
HOSTILE = [
    "'",
    "''",
    "\\",
    "\\'",
    "'\\",
    "'; DROP TABLE events; --",
    "\\'; DROP TABLE events; --",
    "E'\\x41'",
    "$$ $1 {0} {} %s :name ?",
    "O'Brien \\n «Посетитель» ё 🎟",
    "tab\tnew\nline\rback",
]


def hostile_texts(count: int) -> list[str]:
    """`HOSTILE`, and strings drawn (always the same) from the characters that matter most."""
    draw = random.Random(20261208)
    alphabet = "'\\\"$;-{}E\n abé\u2028🎟"
    drawn = ["".join(draw.choices(alphabet, k=draw.randint(1, 24))) for _ in range(count)]
    return HOSTILE + drawn


async def test_text_and_json_are_read_back_exactly_as_they_were(database):
    if database.dialect != "postgresql":
        pytest.skip("the literals are PostgreSQL's: SQLite never gets them")
    values = [*hostile_texts(200), {"message": HOSTILE, "n": 1}]
    async with database.reading() as connection:
        for value in values:
            sql = f"SELECT {sql_literal(value)}"
            assert (await connection.exec_driver_sql(sql)).scalar_one() == value, sql


def test_each_value_is_a_literal_of_its_type():
    moment = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    assert sql_literal(moment) == "'2026-12-07T21:00:00+00:00'::timestamptz"
    assert sql_literal(uuid.UUID(int=1)) == "'00000000-0000-0000-0000-000000000001'::uuid"
    assert [sql_literal(value) for value in (3, True, None)] == ["3", "true", "NULL"]
    assert sql_literal("it's \\ here") == "E'it''s \\\\ here'"
    assert sql_literal({"a": "'"}) == "E'{\"a\": \"''\"}'::json"
    with pytest.raises(ValueError, match="NUL"):
        sql_literal("a\x00b")
    with pytest.raises(ValueError, match="naive"):
        sql_literal(moment.replace(tzinfo=None))
    with pytest.raises(TypeError):
        sql_literal(b"bytes")
