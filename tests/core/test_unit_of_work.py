"""Database.transaction: one commit at the end, a rollback on any error (a RecordedFailure
commits first), after-commit effects only once committed, savepoints that undo only their own
writes."""

import uuid

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.core.database import Database, RecordedFailure, UnitOfWork


class Refused(Exception):
    pass


class RefusedButRecorded(RecordedFailure):
    pass


async def add_user(database: Database, name: str, *, then: Exception | None = None) -> list[str]:
    """Adds a user in a unit of work that registers an effect, then raises `then` if given;
    returns the effects that ran."""
    ran: list[str] = []
    async with database.transaction() as work:
        work.session.add(User(id=uuid.uuid4(), username=name, password_hash="x"))
        await work.session.flush()
        work.after_commit(lambda: ran.append(name))
        if then is not None:
            raise then
    return ran


async def usernames(database: Database) -> list[str]:
    async with database.reading() as connection:
        return list((await connection.execute(select(User.username))).scalars())


async def test_a_unit_of_work_commits_then_runs_its_effects_once(db):
    ran: list[str] = []

    def wake() -> None:
        ran.append("woken")

    async with db.transaction() as work:
        work.session.add(User(id=uuid.uuid4(), username="ivan", password_hash="x"))
        work.after_commit(wake)
        work.after_commit(wake)
        assert ran == []

    assert ran == ["woken"]
    assert await usernames(db) == ["ivan"]


async def test_an_error_rolls_back_and_runs_no_effect(db):
    ran: list[str] = []
    with pytest.raises(Refused):
        ran = await add_user(db, "ivan", then=Refused())

    assert await usernames(db) == []
    assert ran == []


async def test_a_recorded_failure_commits_before_it_propagates(db):
    with pytest.raises(RefusedButRecorded):
        await add_user(db, "ivan", then=RefusedButRecorded())

    assert await usernames(db) == ["ivan"]


async def test_effects_registered_inside_a_failed_block_never_run(db):
    ran = await add_user(db, "ivan")
    with pytest.raises(Refused):
        await add_user(db, "maria", then=Refused())

    assert ran == ["ivan"]
    assert await usernames(db) == ["ivan"]


async def add_in_a_savepoint_then_fail(work: UnitOfWork, name: str) -> None:
    async with work.savepoint():
        work.session.add(User(id=uuid.uuid4(), username=name, password_hash="x"))
        await work.session.flush()
        raise Refused


async def test_a_savepoint_undoes_only_its_own_writes(db):
    async with db.transaction() as work:
        work.session.add(User(id=uuid.uuid4(), username="kept", password_hash="x"))
        with pytest.raises(Refused):
            await add_in_a_savepoint_then_fail(work, "undone")
        count = await work.session.scalar(select(func.count()).select_from(User))

    assert count == 1
    assert await usernames(db) == ["kept"]
