import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUserId
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import PageRequestDep, page_body
from app.dependencies import DatabaseDep, container_of
from app.events.cache import PageCache
from app.events.errors import EventNotFoundError
from app.events.schemas import EventFilters, EventPage, EventRead
from app.events.service import EventService

router = APIRouter(prefix="/api/events", tags=["events"])
READ_ANSWERS = {
    200: {"headers": {"ETag": {"description": "Send it back in If-None-Match to revalidate"}}},
    304: {"description": "Not Modified: the copy named in If-None-Match is still current"},
}


async def get_event_service(database: DatabaseDep) -> EventService:
    return EventService(database)


async def get_page_cache(request: Request) -> PageCache:
    return container_of(request.app).catalogue_pages


EventServiceDep = Annotated[EventService, Depends(get_event_service)]
EventFiltersDep = Annotated[EventFilters, Depends(EventFilters.from_query)]
PageCacheDep = Annotated[PageCache, Depends(get_page_cache)]


@router.get(
    "",
    response_model=EventPage,
    responses={
        **READ_ANSWERS,
        **problem_responses(*AUTHENTICATION_ERRORS, PageNotFoundError, RequestInvalidError),
    },
)
async def list_events(
    _user: CurrentUserId,
    filters: EventFiltersDep,
    page: PageRequestDep,
    request: Request,
    service: EventServiceDep,
    pages: PageCacheDep,
) -> Response:
    """The catalogue, filtered and ordered; `next`/`previous` keep every filter. The answer
    carries an ETag: send it back in `If-None-Match` and get 304 while nothing it shows has
    changed (a write, or a deadline passing)."""

    async def read() -> tuple[EventPage, datetime | None]:
        shown = await service.list_events(filters, page)
        # One validation for the whole page: cheaper than one model per event.
        return EventPage.model_validate(page_body(request.url, page, shown.found)), shown.changes_at

    return await pages.respond(
        service.database,
        request.url,
        request.headers.get("if-none-match"),
        read,
        with_time_filter=filters.status is not None,
    )


@router.get(
    "/{event_id}",
    response_model=EventRead,
    responses={
        **READ_ANSWERS,
        **problem_responses(*AUTHENTICATION_ERRORS, EventNotFoundError, RequestInvalidError),
    },
)
async def get_event(
    _user: CurrentUserId,
    event_id: uuid.UUID,
    request: Request,
    service: EventServiceDep,
    pages: PageCacheDep,
) -> Response:
    """One event, with an ETag as the list's."""

    async def read() -> tuple[EventRead, datetime | None]:
        shown = await service.get_event(event_id)
        return shown.found, shown.changes_at

    return await pages.respond(
        service.database, request.url, request.headers.get("if-none-match"), read
    )
