"""The SQL statements an app sends for a request, counted from the engine's events."""

from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import database_of

# Set while a request is being counted: its tasks see it, the app's background loops do not.
_counting: ContextVar[bool] = ContextVar("counting", default=False)


async def statements_during(
    app: FastAPI, request: Awaitable[Any], *, its_own_only: bool = False
) -> tuple[list[str], Any]:
    """The statements the app sent while `request` ran, in order, and its answer; with
    `its_own_only`, those of the request's own tasks only (not of the background loops, nor
    of a read the request shares with others)."""
    sent: list[str] = []
    engine = database_of(app).engine.sync_engine

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        if _counting.get() or not its_own_only:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    token = _counting.set(True)
    try:
        response = await request
    finally:
        _counting.reset(token)
        event.remove(engine, "before_cursor_execute", record)
    return sent, response
