"""How a route gets what the lifespan made: one typed dependency per collaborator, each read
from the app's Container, and the request's unit of work.

Dependencies that never await are still `async def`: FastAPI runs a plain `def` dependency in
a worker thread, a hand-off that costs more than the work of these.
"""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.applications import Starlette

from app.container import Container
from app.core.background import BackgroundLoops
from app.core.config import Settings
from app.core.database import Database, UnitOfWork
from app.core.shutdown import Drain


def container_of(app: Starlette) -> Container:
    """The container the lifespan put on the app."""
    return cast(Container, app.state.container)


async def get_container(request: Request) -> Container:
    return container_of(request.app)


async def get_settings(request: Request) -> Settings:
    return container_of(request.app).settings


async def get_database(request: Request) -> Database:
    return container_of(request.app).database


async def get_background(request: Request) -> BackgroundLoops:
    return container_of(request.app).background


async def get_drain(request: Request) -> Drain:
    return container_of(request.app).drain


ContainerDep = Annotated[Container, Depends(get_container)]
DrainDep = Annotated[Drain, Depends(get_drain)]
BackgroundDep = Annotated[BackgroundLoops, Depends(get_background)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def unit_of_work(database: DatabaseDep) -> AsyncIterator[UnitOfWork]:
    """The request's one transaction: it commits when the route function returns, before the
    response is sent, and rolls back if it raises (RecordedFailure aside)."""
    async with database.transaction() as work:
        yield work


# scope="function": the transaction ends when the route function does, not after the response
# has gone out, so that a failed commit is the request's error and not a lost write.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
