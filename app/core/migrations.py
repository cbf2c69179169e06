"""Applying and checking Alembic migrations from code (CLI, start-up, readiness)."""

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(str(files("app"))) / "migrations"))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s",
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking (Alembic runs its own event loop): call it before serving, or in a thread."""
    command.upgrade(alembic_config(database_url), "head")


def downgrade_to_base(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")


@lru_cache
def head_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    return frozenset(script.get_heads())


async def is_at_head(connection: AsyncConnection) -> bool:
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no alembic_version table yet
        return False
    return frozenset(rows.scalars()) == head_revisions()
