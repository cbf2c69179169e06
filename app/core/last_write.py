"""A unit of work's last writes sent with its COMMIT, in one message to PostgreSQL.

Why: a row that every request of a rush updates (an event's seats) stays locked from its UPDATE
to the COMMIT. Sent one after the other, the COMMIT leaves only once the UPDATE's answer has
come back and this process's event loop has come round to the request again — under load,
milliseconds in which every other request for the row waits (bench/README.md, "When sales
open"). The writes that must come with it (a registration and its notice) travel in the same
message rather than as statements of their own: each statement costs a round trip and, through
SQLAlchemy, more instructions than the whole message (bench/README.md, "The registration in the
seat's message"). asyncpg sends a statement without parameters by the simple-query protocol,
where one message may hold several statements, run one after the other by the server; so the
values are written into the SQL here, each as a literal of its type (`sql_literal`).

The message is `SAVEPOINT; <each write, failing unless it changed a row>; COMMIT; BEGIN`:
- a write fails (a division by zero) when it changed no row, so that the COMMIT after it is
  skipped; the savepoint lets the unit of work go on without any of them;
- the BEGIN gives SQLAlchemy's transaction, which knows nothing of the COMMIT, an empty one to
  end as it would have (its COMMIT then costs a round trip, but holds nothing).
"""

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, Update, literal_column, select
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.sql.schema import ScalarElementColumnDefault

SAVEPOINT = "last_write"
# The SQLSTATE of the write that changed no row.
CHANGED_NO_ROW = "22012"
_PLACEHOLDER = re.compile(r"\$(\d+)")
_POSTGRESQL = asyncpg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's own, untyped


@dataclass(frozen=True, slots=True)
class LastWrite:
    """A write meant to be one of a unit of work's last, changing one row, and the values of
    its parameters. Its statement is built once (the message's template is kept per statement),
    and gives every column a value of its own or a constant: no default is computed here."""

    statement: Insert | Update
    values: Mapping[str, object]


def committing_message(writes: Sequence[LastWrite]) -> str:
    """The SQL of the message that makes `writes` and commits, if each changes a row."""
    checked = "; ".join(_checked(write) for write in writes)
    return f"SAVEPOINT {SAVEPOINT}; {checked}; COMMIT; BEGIN"


def _checked(write: LastWrite) -> str:
    template, names, constants = _checked_template(write.statement)
    values = {**constants, **write.values}
    return template.format(*(sql_literal(values[name]) for name in names))


@cache
def _checked_template(
    statement: Insert | Update,
) -> tuple[str, tuple[str, ...], Mapping[str, object]]:
    """The write, failing unless it changed a row, as a format string (PostgreSQL's `$1` turned
    into `{0}`), the parameter of each place, and the values the statement gives its own (the
    1 of `count + 1`, a column's constant default)."""
    changed = statement.returning(literal_column("1")).cte("changed")
    checked: Select[Any] = select(literal_column("1 / count(*)")).select_from(changed)
    compiled = checked.compile(dialect=_POSTGRESQL)
    names = tuple(compiled.positiontup or ())
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    for column in compiled.insert_prefetch:  # defaults SQLAlchemy would compute as it executes
        default = column.default
        if not isinstance(default, ScalarElementColumnDefault):
            raise TypeError(f"a last write computes no default: give {column.key} its value")
        constants[column.key] = default.arg
    sql = str(compiled).replace("{", "{{").replace("}", "}}")
    template = _PLACEHOLDER.sub(lambda number: f"{{{int(number[1]) - 1}}}", sql)
    return template, names, constants


def sql_literal(value: object) -> str:
    """`value` as a PostgreSQL literal, for the types a last write takes. Text is quoted as
    libpq's PQescapeLiteral quotes it: an escape string (`E'…'`, read the same whatever the
    server's standard_conforming_strings) with each backslash and quote doubled, so that no
    value can end the literal; a mapping is JSON, as SQLAlchemy's JSON type writes it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, Mapping):
        return f"{_quoted(json.dumps(value))}::json"
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return f"'{value.isoformat()}'::timestamptz"
    raise TypeError(f"no literal for a {type(value).__name__} in a last write")


def _quoted(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text with a NUL character cannot be stored")  # refused at the edge
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
