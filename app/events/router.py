import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.auth.dependencies import CurrentUserId
from app.core.errors import problem_responses
from app.core.pagination import PageRequestDep
from app.events.schemas import EventFilters, EventPage, EventRead
from app.events.service import EventService

router = APIRouter(prefix="/api/events", tags=["events"])


async def get_event_service(request: Request) -> EventService:
    return EventService(request.app.state.engine)


EventServiceDep = Annotated[EventService, Depends(get_event_service)]
EventFiltersDep = Annotated[EventFilters, Depends(EventFilters.from_query)]


@router.get("", responses=problem_responses(401, 404, 422))
async def list_events(
    _user: CurrentUserId,
    filters: EventFiltersDep,
    page: PageRequestDep,
    request: Request,
    service: EventServiceDep,
) -> EventPage:
    """The catalogue, filtered and ordered; `next`/`previous` keep every filter."""
    return await service.list_events(filters, page, request)


@router.get("/{event_id}", responses=problem_responses(401, 404, 422))
async def get_event(
    _user: CurrentUserId, event_id: uuid.UUID, service: EventServiceDep
) -> EventRead:
    return await service.get_event(event_id)
