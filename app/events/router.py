import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUserId
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import page_body
from app.core.query import reads_query
from app.dependencies import DatabaseDep, catalogue_pages_of
from app.events.cache import PageCache
from app.events.errors import EventNotFoundError
from app.events.schemas import EventListQuery, EventPage, EventRead
from app.events.service import EventService

router = APIRouter(prefix="/api/events", tags=["events"])
READ_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"description": "Send it back in If-None-Match to revalidate"}}},
    304: {"description": "Not Modified: the copy named in If-None-Match is still current"},
}


@dataclass(frozen=True, slots=True)
class CatalogueReads:
    service: EventService
    pages: PageCache


async def get_reads(request: Request, database: DatabaseDep) -> CatalogueReads:
    return CatalogueReads(EventService(database), catalogue_pages_of(request))


# One dependency for what reads the catalogue: on the hot path, each dependency FastAPI
# resolves costs more than the work of this one.
CatalogueReadsDep = Annotated[CatalogueReads, Depends(get_reads)]


@router.get(
    "",
    operation_id="events_list",
    summary="List events",
    response_model=EventPage,
    responses={
        **READ_ANSWERS,
        **problem_responses(*AUTHENTICATION_ERRORS, PageNotFoundError, RequestInvalidError),
    },
)
@reads_query(EventListQuery)
async def list_events(_user: CurrentUserId, request: Request, reads: CatalogueReadsDep) -> Response:
    """The catalogue, filtered and ordered; `next`/`previous` keep every filter. The answer
    carries an ETag: send it back in `If-None-Match` and get 304 while nothing it shows has
    changed (a write, or a deadline passing)."""

    async def read() -> tuple[EventPage, datetime | None]:
        query = await EventListQuery.from_query(request)
        shown = await reads.service.list_events(query, query)
        # One validation for the whole page: cheaper than one model per event.
        page = EventPage.model_validate(page_body(request.url, query, shown.found))
        return page, shown.changes_at

    return await reads.pages.respond(
        reads.service.database,
        request.url,
        request.headers.get("if-none-match"),
        read,
        with_time_filter="status" in request.query_params,
    )


@router.get(
    "/{event_id}",
    operation_id="events_get",
    summary="Get an event",
    response_model=EventRead,
    responses={
        **READ_ANSWERS,
        **problem_responses(*AUTHENTICATION_ERRORS, EventNotFoundError, RequestInvalidError),
    },
)
async def get_event(
    _user: CurrentUserId, event_id: uuid.UUID, request: Request, reads: CatalogueReadsDep
) -> Response:
    """One event, with an ETag as the list's."""

    async def read() -> tuple[EventRead, datetime | None]:
        shown = await reads.service.get_event(event_id)
        return shown.found, shown.changes_at

    return await reads.pages.respond(
        reads.service.database, request.url, request.headers.get("if-none-match"), read
    )
