"""The engine, the unit of work, and the declarative base shared by every domain's models.

The same models and migrations serve SQLite (aiosqlite) and PostgreSQL (asyncpg); the few
places where the dialects differ are handled here.
"""

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    MetaData,
    Result,
    Select,
    Table,
    Uuid,
    bindparam,
    event,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute
from sqlalchemy.types import TypeDecorator

from app.core.config import DEFAULT_DATABASE_POOL_SIZE
from app.core.errors import DatabaseUnavailableError, TransactionConflictError
from app.core.last_write import CHANGED_NO_ROW, SAVEPOINT, LastWrite, committing_message

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
UNIQUE_VIOLATION = "23505"
PING_AFTER_IDLE_SECONDS = 5.0
# A connection attempt that has not succeeded by then will not: fail fast, answer 503.
CONNECT_TIMEOUT_SECONDS = 5.0
# SQLSTATEs of a server that cannot serve the connection now: class 08 (connection
# exception), 57P01-57P03 (terminated by an administrator, crash shutdown, cannot connect
# now: starting up or shutting down), 53300 (too many connections).
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
TRANSACTION_ROLLBACK_SQLSTATES = "40"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}  # noqa: RUF012
    if TYPE_CHECKING:
        # Every model here is mapped to a Table (SQLAlchemy types it as any FromClause).
        __table__: ClassVar[Table]


def utcnow() -> datetime:
    return datetime.now(UTC)


# An `INSERT` that knows `ON CONFLICT`: PostgreSQL's or SQLite's.
Upsert = postgresql.Insert | sqlite.Insert


def dialect_name(session: AsyncSession) -> str:
    """The session's dialect ("postgresql" or "sqlite"): every session here is bound."""
    assert session.bind is not None, "sessions are made bound to an engine or a connection"
    return session.bind.dialect.name


def one_of(
    column: ColumnElement[str] | QueryableAttribute[str], values: Iterable[str]
) -> ColumnElement[bool]:
    """`column IN (...)` with constant `values` written into the SQL, in a stable order: a
    bound list is expanded again at every execution (1.5 % of a registration's CPU)."""
    return column.in_([literal_column(f"'{value}'") for value in sorted(values)])


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows an INSERT, UPDATE or DELETE matched. `execute()` returns a CursorResult for
    them; its overloads promise only a Result, which has no rowcount."""
    return cast(CursorResult[*tuple[Any, ...]], result).rowcount


def insert_or_update(session: AsyncSession, model: type[Base] | Table) -> Upsert:
    """`INSERT` that knows `ON CONFLICT` (both dialects spell it the same way)."""
    return insert_upsert(dialect_name(session), model)


def insert_upsert(dialect: str, model: type[Base] | Table) -> Upsert:
    """`insert_or_update` for a dialect named ("postgresql" or "sqlite")."""
    return postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)


def rows_by_key(
    session: AsyncSession, key: ColumnElement[Any], keys: Sequence[Any], *columns: Any
) -> Select[Any]:
    """`SELECT columns … WHERE key IN keys`, read through the key's unique index whatever the
    planner believes of the table's size.

    On PostgreSQL an IN list (or `= ANY(array)`) is planned once per connection and the
    prepared statement keeps its plan: planned while the table was empty, that plan is a
    sequential scan which compares every row with every key, so that a lookup of 200 events
    cost 16 ms at 10,000 events and 43 ms at 30,000 (the sync's reads of stored events, with
    no statistics yet: bench/README.md). Here each key is looked up on its own inside a
    LATERAL subquery, and `OFFSET 0` keeps the planner from flattening it into a join (which
    it would hash over a sequential scan): an index probe per key is the only plan left."""
    if dialect_name(session) != "postgresql":
        return select(*columns).where(key.in_(keys))
    wanted = (
        func.unnest(bindparam(None, list(keys), type_=postgresql.ARRAY(key.type)))
        .table_valued("key")
        .render_derived(name="wanted")
    )
    found = select(*columns).where(key == wanted.c.key).offset(0).lateral("found")
    return select(found).select_from(wanted).join(found, true())


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, foreign keys, and transactions SQLite really isolates.

    pysqlite's own transaction handling defers BEGIN and never wraps DDL; we take over and
    open every transaction with BEGIN IMMEDIATE, so a read-then-write transaction waits for
    the write lock up front instead of failing with SQLITE_BUSY half-way.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _ping_connections_idle_for(engine: AsyncEngine, seconds: float) -> None:
    """Checks a pooled connection before use only when it has sat idle for `seconds`.

    A database restart or failover, or a firewall dropping idle sockets, leaves dead
    connections in the pool; checking them before use spares the request that would otherwise
    fail on one. SQLAlchemy's pool_pre_ping checks every checkout, which costs asyncpg three
    round trips (BEGIN, a ping, ROLLBACK) and a third of the list's throughput. A connection in
    steady use needs no check: if the database goes away under load, the first error
    invalidates the whole pool anyway.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # A dead connection most likely means the server restarted: the pool discards this
            # one and every other opened before now, and connects afresh.
            raise InvalidatePoolError(str(error)) from error


def process_name() -> str:
    """`events-face:<pid>:<host>`, this process's connections' application_name: in
    pg_stat_activity an operator sees which process of which replica holds a connection, a
    lock or a slow query (PostgreSQL keeps 63 characters)."""
    return f"events-face:{os.getpid()}:{socket.gethostname()}"[:63]


def create_engine(
    database_url: str,
    *,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
    **options: Any,
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        options.pop("pool_size", None)  # one writer at a time: SQLAlchemy's default pool fits
        engine = create_async_engine(
            database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
        _configure_sqlite(engine)
        return engine
    if "poolclass" in options:
        return create_async_engine(database_url, **options)
    # A fixed pool (DATABASE_POOL_SIZE, 8 by default), every connection kept once opened: with
    # overflow connections (closed as soon as they are returned) a steady load above the pool
    # size reconnects a dozen times a second, and the requests queued behind those waited
    # seconds (bench/README.md).
    options.setdefault("pool_size", DEFAULT_DATABASE_POOL_SIZE)
    options.setdefault("max_overflow", 0)
    options.setdefault(
        "connect_args",
        {
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": {"application_name": process_name()},
        },
    )
    engine = create_async_engine(database_url, **options)
    _ping_connections_idle_for(engine, ping_after_idle_seconds)
    return engine


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now, rather than that a statement
    is wrong: the pool waited too long for a connection, the connection was cut (the dialect
    invalidated it), connecting failed (refused, timed out) or the server refused to serve
    (restarting, shutting down, full)."""
    if isinstance(error, sqlalchemy_errors.TimeoutError):
        return True
    reported: list[BaseException | None] = [error]
    if isinstance(error, sqlalchemy_errors.DBAPIError):
        if error.connection_invalidated:
            return True
        reported = [error.orig, error.orig.__cause__ if error.orig else None]
    return any(_refuses_service(cause) for cause in reported if cause is not None)


def is_transient(error: BaseException) -> bool:
    """The database, or the way to it, failing for the moment — unreachable (as above, or
    already turned into its problem), an operational or interface error of the driver, or
    the transaction rolled back for a concurrent one: worth trying the same work again."""
    if isinstance(error, DatabaseUnavailableError | TransactionConflictError):
        return True
    if is_database_unavailable(error) or _lost_to_a_concurrent_transaction(error):
        return True
    if isinstance(error, sqlalchemy_errors.DBAPIError):
        return isinstance(
            error, sqlalchemy_errors.OperationalError | sqlalchemy_errors.InterfaceError
        )
    return isinstance(error, OSError | TimeoutError)


def is_unique_violation(error: sqlalchemy_errors.IntegrityError) -> bool:
    """Whether a unique index refused the write (rather than a foreign key, say)."""
    return _sqlstate(error.orig) == UNIQUE_VIOLATION or "UNIQUE constraint" in str(error.orig)


def _refuses_service(error: BaseException) -> bool:
    if isinstance(error, OSError):  # refused, reset, timed out
        return True
    return _sqlstate(error).startswith(UNAVAILABLE_SQLSTATES)


def _sqlstate(error: BaseException | None) -> str:
    """The SQLSTATE the driver's error carries ("" if none)."""
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""


@asynccontextmanager
async def _database_errors_as_problems() -> AsyncIterator[None]:
    """Turns a database that cannot be reached into DatabaseUnavailableError, and a transaction
    it rolled back for a concurrent one into TransactionConflictError (each a 503 problem with
    Retry-After for a request, a warning for a background loop)."""
    try:
        yield
    except Exception as error:
        if is_database_unavailable(error):
            raise DatabaseUnavailableError() from error
        if _lost_to_a_concurrent_transaction(error):
            raise TransactionConflictError() from error
        raise


def _lost_to_a_concurrent_transaction(error: BaseException) -> bool:
    """SQLSTATE class 40, "transaction rollback": a deadlock (40P01) or a serialization
    failure (40001), which PostgreSQL resolves by rolling one of the transactions back."""
    reported = error.orig if isinstance(error, sqlalchemy_errors.DBAPIError) else error
    return _sqlstate(reported).startswith(TRANSACTION_ROLLBACK_SQLSTATES)


class RecordedFailure(Exception):
    """Mixed into an error whose unit of work commits before the error propagates: the failed
    attempt is itself the record (a wrong code counts toward the lock; a reused refresh token
    revokes its family). Every other error rolls the unit of work back."""


AfterCommit = Callable[[], object]
BeforeCommit = Callable[[], Awaitable[object]]


async def _commit_in_one_message(driver: Any, writes: Sequence[LastWrite]) -> bool:
    try:
        await driver.execute(committing_message(writes))
    except Exception as error:
        if _sqlstate(error) not in (CHANGED_NO_ROW, UNIQUE_VIOLATION):
            raise
        await driver.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        return False
    return True


class _NotAllWritten(Exception):
    """A last write changed no row: the savepoint of them all is rolled back."""


class UnitOfWork:
    """One transaction: the session every repository of a request (or of one loop iteration)
    works in, the last writes it makes before committing, and the effects that must happen only
    once it has committed (waking the outbox relay). Nobody but `Database.transaction` commits
    it — or `commit_with`, with the last writes it is handed."""

    __slots__ = ("_after_commit", "_before_commit", "_commits_with_last_write", "session")

    def __init__(self, session: AsyncSession, *, commits_with_last_write: bool = False) -> None:
        self.session = session
        self._before_commit: dict[str, BeforeCommit] = {}
        self._after_commit: dict[AfterCommit, None] = {}
        self._commits_with_last_write = commits_with_last_write

    def before_commit(self, name: str, write: BeforeCommit) -> None:
        """Runs `write` in the transaction just before it commits, once per `name` however
        often it is registered: for a write every change must make, as late as possible (it
        holds its lock only until the commit)."""
        self._before_commit.setdefault(name, write)

    def after_commit(self, effect: AfterCommit) -> None:
        """Runs `effect` once the transaction has committed (once, however often it is
        registered); never after a rollback."""
        self._after_commit[effect] = None

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: an error inside it undoes only its own writes, and the unit
        of work goes on (`async with uow.savepoint(): …`)."""
        return self.session.begin_nested()

    async def commit_with(self, *writes: LastWrite) -> bool:
        """Makes `writes`, in that order, the unit of work's last writes if each changes a row
        (True); else — one changed no row, or a unique index refused one — makes none of them
        (False), and the unit of work goes on. On PostgreSQL they are sent with the COMMIT, in
        one message (app.core.last_write says why): the unit of work has committed when it
        returns True, and writes nothing more. Inside a savepoint, joined to a test's
        transaction, or with nothing written before them, they are statements as any other,
        committed when the block ends."""
        if self._commits_with_last_write and not self.session.in_nested_transaction():
            await self._write_before_commit()
            await self.session.flush()
            connection = await (await self.session.connection()).get_raw_connection()
            driver = connection.driver_connection
            if driver is not None and driver.is_in_transaction():
                return await _commit_in_one_message(driver, writes)
        try:
            async with self.session.begin_nested():
                for write in writes:
                    if not await self._changes_a_row(write):
                        raise _NotAllWritten()
        except _NotAllWritten:
            return False
        except sqlalchemy_errors.IntegrityError as error:
            if not is_unique_violation(error):
                raise
            return False
        return True

    async def _changes_a_row(self, write: LastWrite) -> bool:
        return rowcount(await self.session.execute(write.statement, write.values)) == 1

    async def _write_before_commit(self) -> None:
        writes, self._before_commit = self._before_commit, {}
        for write in writes.values():
            await write()

    async def _commit(self) -> None:
        await self._write_before_commit()
        await self.session.commit()

    def _committed(self) -> None:
        effects, self._after_commit = self._after_commit, {}
        for effect in effects:
            effect()


class Database:
    """The one entry point to the database: `transaction()` for a unit of work, `reading()`
    for reads that are better served by a plain connection handed back at once."""

    def __init__(self, engine: AsyncEngine, *, bind: AsyncEngine | AsyncConnection | None = None):
        self.engine = engine
        self._bind = bind if bind is not None else engine
        self._commits_with_last_write = bind is None and engine.dialect.name == "postgresql"
        self._sessions = async_sessionmaker(
            self._bind,
            expire_on_commit=False,
            autoflush=False,
            # Joined to an outer transaction (a test's), a commit releases a savepoint instead.
            join_transaction_mode="create_savepoint",
        )

    @classmethod
    def joined_to(cls, connection: AsyncConnection) -> "Database":
        """Every unit of work and read runs on `connection`, inside its transaction: what a
        test that rolls everything back at its end needs (one request at a time)."""
        return cls(connection.engine, bind=connection)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """Commits when the block ends, rolls back when it raises (a RecordedFailure commits,
        then propagates), and runs the after-commit effects once committed; a database that
        cannot be reached is a DatabaseUnavailableError, a transaction rolled back for a
        concurrent one a TransactionConflictError."""
        async with _database_errors_as_problems(), self._session() as session:
            work = UnitOfWork(session, commits_with_last_write=self._commits_with_last_write)
            try:
                yield work
            except BaseException as error:
                if not isinstance(error, RecordedFailure):
                    if session.in_transaction():
                        await session.rollback()
                    raise
                await work._commit()
                work._committed()
                raise
            await work._commit()
        work._committed()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """A session, closed at the end of the block when it still holds a connection (a
        commit or a rollback that did not finish), shielded from cancellation so that the
        connection goes back to the pool. SQLAlchemy's `async with session` closes every one
        in a task of its own, shielded: a third of the cost of a unit of work that wrote
        nothing (a full event's 409), for sessions that hold nothing by then."""
        session = self._sessions()
        try:
            yield session
        finally:
            if session.in_transaction():
                await asyncio.shield(session.close())

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, handed back to the pool when the block ends.

        On PostgreSQL it runs in autocommit, without BEGIN and ROLLBACK (two round trips): under
        READ COMMITTED each statement sees its own snapshot either way. SQLite keeps its
        transaction."""
        if isinstance(self._bind, AsyncConnection):
            yield self._bind
            return
        async with _database_errors_as_problems(), self.engine.connect() as connection:
            if self.dialect == "postgresql":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()
