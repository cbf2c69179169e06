"""The SQL statements an app sends while a request runs, counted from the engine's events."""

from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import database_of


async def statements_during(app: FastAPI, request: Awaitable[Any]) -> tuple[list[str], Any]:
    """The statements the app sent while `request` ran, in order, and its answer."""
    sent: list[str] = []
    engine = database_of(app).engine.sync_engine

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await request
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent, response
