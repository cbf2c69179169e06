"""Applying and checking Alembic migrations from code (CLI, start-up, readiness).

Alembic is imported only when a migration is applied: it is 8 MiB of a process's memory, which
a process that only serves, syncs or relays does without."""

import ast
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alembic.config import Config


def migrations_directory() -> Path:
    return Path(str(files("app"))) / "migrations"


def alembic_config(database_url: str) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s",
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking (Alembic runs its own event loop): call it before serving, or in a thread."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


def downgrade_to_base(database_url: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), "base")


@lru_cache
def head_revisions() -> frozenset[str]:
    return heads_of(migrations_directory() / "versions")


def heads_of(versions: Path) -> frozenset[str]:
    """The revisions no other revision follows, read from the migration files' own `revision`
    and `down_revision` lines rather than through Alembic: importing Alembic costs a serving
    process 8 MiB (of about 100) for the readiness check's one question. A test holds the
    answer equal to Alembic's."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in versions.glob("*.py"):
        assigned = _literals_assigned(path, {"revision", "down_revision"})
        revisions.add(assigned["revision"])
        down = assigned.get("down_revision")
        followed.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - followed)


def _literals_assigned(path: Path, names: set[str]) -> dict[str, Any]:
    """The values assigned to `names` at the top level of a Python file, annotated or not."""
    assigned: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    assigned[target.id] = ast.literal_eval(node.value)
    return assigned


async def is_at_head(connection: AsyncConnection) -> bool:
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no alembic_version table yet
        return False
    return frozenset(rows.scalars()) == head_revisions()


def objects_for(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for comparing the models with a `dialect` database: an index
    declared for other dialects only (`Index(...).ddl_if(dialect=...)`, the trigram index) is
    not missing here, though autogenerate, which ignores ddl_if, would say so."""

    def include(object_: Any, _name: Any, type_: str, reflected: bool, _compare_to: Any) -> bool:
        if type_ != "index" or reflected:
            return True
        condition = getattr(object_, "_ddl_if", None)  # SQLAlchemy keeps ddl_if's arguments here
        if condition is None or condition.dialect is None:
            return True
        dialects = (condition.dialect,) if isinstance(condition.dialect, str) else condition.dialect
        return dialect in dialects

    return include
