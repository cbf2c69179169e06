import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUserId
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import PageRequestDep, page_body
from app.dependencies import DatabaseDep
from app.events.errors import EventNotFoundError
from app.events.schemas import EventFilters, EventPage, EventRead
from app.events.service import EventService

router = APIRouter(prefix="/api/events", tags=["events"])


async def get_event_service(database: DatabaseDep) -> EventService:
    return EventService(database)


EventServiceDep = Annotated[EventService, Depends(get_event_service)]
EventFiltersDep = Annotated[EventFilters, Depends(EventFilters.from_query)]


@router.get(
    "",
    responses=problem_responses(*AUTHENTICATION_ERRORS, PageNotFoundError, RequestInvalidError),
)
async def list_events(
    _user: CurrentUserId,
    filters: EventFiltersDep,
    page: PageRequestDep,
    request: Request,
    service: EventServiceDep,
) -> EventPage:
    """The catalogue, filtered and ordered; `next`/`previous` keep every filter."""
    found = await service.list_events(filters, page)
    # One validation for the whole page: cheaper than one model per event.
    return EventPage.model_validate(page_body(request.url, page, found))


@router.get(
    "/{event_id}",
    responses=problem_responses(*AUTHENTICATION_ERRORS, EventNotFoundError, RequestInvalidError),
)
async def get_event(
    _user: CurrentUserId, event_id: uuid.UUID, service: EventServiceDep
) -> EventRead:
    return await service.get_event(event_id)
