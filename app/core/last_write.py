"""A unit of work's last write sent with its COMMIT, in one message to PostgreSQL.

Why: a row that every request of a rush updates (an event's seats) stays locked from its UPDATE
to the COMMIT. Sent one after the other, the COMMIT leaves only once the UPDATE's answer has
come back and this process's event loop has come round to the request again — under load,
milliseconds in which every other request for the row waits (bench/README.md, "When sales
open"). asyncpg sends a statement without parameters by the simple-query protocol, where one
message may hold several statements, run one after the other by the server; so the values are
written into the SQL here, and only values of the few types below, which cannot carry SQL.

The message is `SAVEPOINT; <the write, failing unless it changed a row>; COMMIT; BEGIN`:
- the write fails (a division by zero) when it changed no row, so that the COMMIT after it is
  skipped; the savepoint lets the unit of work go on without it;
- the BEGIN gives SQLAlchemy's transaction, which knows nothing of the COMMIT, an empty one to
  end as it would have (its COMMIT then costs a round trip, but holds nothing).
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, Update, literal_column, select
from sqlalchemy.dialects.postgresql import asyncpg

SAVEPOINT = "last_write"
# The SQLSTATE of the write that changed no row.
CHANGED_NO_ROW = "22012"
_PLACEHOLDER = re.compile(r"\$(\d+)")
_POSTGRESQL = asyncpg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's own, untyped


@dataclass(frozen=True, slots=True)
class LastWrite:
    """An UPDATE meant to be a unit of work's last write, and the values of its parameters."""

    statement: Update
    values: Mapping[str, object]


def committing_message(write: LastWrite) -> str:
    """The SQL of the message that makes `write` and commits, if it changes a row."""
    template, names, constants = _committing_template(write.statement)
    values = {**constants, **write.values}
    literals = [sql_literal(values[name]) for name in names]
    return template.format(*literals)


@cache
def _committing_template(
    statement: Update,
) -> tuple[str, tuple[str, ...], Mapping[str, object]]:
    """The message as a format string (PostgreSQL's `$1` turned into `{0}`), the parameter of
    each place, and the values the statement gives its own (the 1 of `count + 1`)."""
    changed = statement.returning(literal_column("1")).cte("changed")
    checked: Select[Any] = select(literal_column("1 / count(*)")).select_from(changed)
    compiled = checked.compile(dialect=_POSTGRESQL)
    names = tuple(compiled.positiontup or ())
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    sql = str(compiled).replace("{", "{{").replace("}", "}}")
    template = _PLACEHOLDER.sub(lambda number: f"{{{int(number[1]) - 1}}}", sql)
    return f"SAVEPOINT {SAVEPOINT}; {template}; COMMIT; BEGIN", names, constants


def sql_literal(value: object) -> str:
    """`value` as a PostgreSQL literal, for the types a last write takes."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return f"'{value.isoformat()}'::timestamptz"
    raise TypeError(f"no literal for a {type(value).__name__} in a last write")
