"""Migrations run up and down on both databases, match the models, and tolerate replicas
starting at once."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.core.database import create_engine
from app.core.migrations import (
    alembic_config,
    downgrade_to_base,
    head_revisions,
    heads_of,
    objects_for,
    upgrade_to_head,
)
from app.models import Base
from tests.support.database import (
    create_scratch_postgres_database,
    drop_postgres_database,
    postgres_url,
)
from tests.support.processes import child_environment, run_cli


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    url = await create_scratch_postgres_database(base, "migrations")
    yield url
    await drop_postgres_database(base, url)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"include_object": objects_for(connection.dialect.name)}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_to_head_then_down_to_base_and_up_again(scratch_url):
    await asyncio.to_thread(upgrade_to_head, scratch_url)
    assert await _tables(scratch_url) == set(Base.metadata.tables)

    await asyncio.to_thread(downgrade_to_base, scratch_url)
    assert await _tables(scratch_url) == set()

    await asyncio.to_thread(upgrade_to_head, scratch_url)
    assert await _tables(scratch_url) == set(Base.metadata.tables)


async def test_migrations_match_the_models(scratch_url):
    await asyncio.to_thread(upgrade_to_head, scratch_url)
    engine = create_engine(scratch_url)

    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    await engine.dispose()

    assert differences == []


async def test_replicas_migrating_at_once_all_succeed(scratch_url, tmp_path):
    env = child_environment(DATABASE_URL=scratch_url)

    results = await asyncio.gather(*(run_cli("migrate", env=env, cwd=tmp_path) for _ in range(3)))

    assert [code for code, _, _ in results] == [0, 0, 0], results
    assert await _tables(scratch_url) == set(Base.metadata.tables)


def test_the_readiness_checks_heads_are_alembics():
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))

    assert head_revisions() == frozenset(script.get_heads())


def test_heads_are_read_through_branches_and_merges(tmp_path):
    def revision(name: str, down: object) -> None:
        (tmp_path / f"{name}.py").write_text(
            f"from collections.abc import Sequence\n\nrevision: str = {name!r}\n"
            f"down_revision: str | Sequence[str] | None = {down!r}\n"
        )

    revision("a", None)
    revision("b", "a")
    revision("c", "a")
    assert heads_of(tmp_path) == {"b", "c"}

    revision("d", ("b", "c"))
    assert heads_of(tmp_path) == {"d"}
