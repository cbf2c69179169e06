"""How a route gets what the lifespan made: a typed dependency per collaborator (or, on the
hot paths, a typed accessor that a dependency calls), each read from the app's Container, and
the request's unit of work. The one doorway: no router or dependency elsewhere reads the
container (tests/core/test_architecture.py); only the admin site, which is not FastAPI's,
calls `container_of`.

Dependencies that never await are still `async def`: FastAPI runs a plain `def` dependency in
a worker thread, a hand-off that costs more than the work of these.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from starlette.applications import Starlette

from app.auth.erased import ErasedUsers
from app.container import Container
from app.core.background import BackgroundLoops
from app.core.database import Database, UnitOfWork
from app.core.metrics import Metrics
from app.core.ratelimit import RateLimiter
from app.core.security import TokenCodec
from app.core.shutdown import Drain
from app.events.cache import PageCache
from app.registrations.lifecycle import Surroundings
from app.sync.service import SyncService
from app.tickets.signing import TicketKeyring


def container_of(app: Starlette) -> Container:
    """The container the lifespan put on the app."""
    return cast(Container, app.state.container)


async def get_container(request: Request) -> Container:
    return container_of(request.app)


def _collaborator(name: str) -> Callable[[Request], Awaitable[Any]]:
    """The dependency that hands a route the container's collaborator `name` (its type is the
    `Annotated` one below)."""

    async def dependency(request: Request) -> Any:
        return getattr(container_of(request.app), name)

    return dependency


# On the hot paths (every authenticated request, the catalogue's pages, registering) a
# dependency of its own costs FastAPI more than the lookup: with the first two as dependencies
# a cached page took 1.17 M instructions, 1.03 M without (bench.instructions). The
# dependencies that need them call them.
def token_codec_of(request: Request) -> TokenCodec:
    return container_of(request.app).token_codec


def erased_users_of(request: Request) -> ErasedUsers:
    return container_of(request.app).erased_users


def catalogue_pages_of(request: Request) -> PageCache:
    return container_of(request.app).catalogue_pages


def database_of(request: Request) -> Database:
    return container_of(request.app).database


def surroundings_of(request: Request) -> Surroundings:
    return container_of(request.app).surroundings


def link_base_of(request: Request) -> str:
    """The start of the absolute links the service builds: PUBLIC_BASE_URL, or else where the
    client reached us (scheme, host, root path; through the trusted proxies' headers)."""
    public = surroundings_of(request).settings.public_base
    return public or str(request.base_url).rstrip("/")


# A name of its own: the tests route the requests' reads into their transaction by overriding it.
get_database = _collaborator("database")

ContainerDep = Annotated[Container, Depends(get_container)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RateLimiterDep = Annotated[RateLimiter, Depends(_collaborator("rate_limiter"))]
MetricsDep = Annotated[Metrics, Depends(_collaborator("metrics"))]
TicketKeyringDep = Annotated[TicketKeyring, Depends(_collaborator("ticket_keys"))]
SyncDep = Annotated[SyncService, Depends(_collaborator("sync"))]
BackgroundDep = Annotated[BackgroundLoops, Depends(_collaborator("background"))]
DrainDep = Annotated[Drain, Depends(_collaborator("drain"))]


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """The request's one transaction: it commits when the route function returns, before the
    response is sent, and rolls back if it raises (RecordedFailure aside). The database comes
    from the accessor, not from DatabaseDep: every write would resolve one dependency more.
    The tests route units of work into their own transaction by overriding this."""
    async with database_of(request).transaction() as work:
        yield work


# scope="function": the transaction ends when the route function does, not after the response
# has gone out, so that a failed commit is the request's error and not a lost write.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
