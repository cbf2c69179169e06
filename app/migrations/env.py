"""Alembic environment: async, the same for SQLite and PostgreSQL.

Several replicas may start at once and all run `upgrade head`: on PostgreSQL they queue on an
advisory lock, on SQLite on the write lock that our engine takes with BEGIN IMMEDIATE; either
way the second one finds the schema at head and does nothing.
"""

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from app.core.config import settings_from_environment
from app.core.database import UTCDateTime, create_engine
from app.core.migrations import objects_for
from app.models import Base

MIGRATION_LOCK_ID = 0x6576_656E_7473  # "events"

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    # Set by app.core.migrations; a bare `alembic upgrade head` takes DATABASE_URL.
    return config.get_main_option("sqlalchemy.url") or settings_from_environment().database_url


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes our UTC type as `UTCDateTime()` with its import."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from app.core.database import UTCDateTime")
        return "UTCDateTime()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transactional_ddl=True,
        render_item=_render_item,  # on SQLite too: our engine issues BEGIN itself
        include_object=objects_for(connection.dialect.name),
    )
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgres:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})")
            connection.commit()


async def _run_online() -> None:
    engine = create_engine(_database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_online())
