import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import CurrentUserId
from app.core.dependencies import SessionDep, SettingsDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageRequestDep
from app.registrations.schemas import (
    ConfirmRequest,
    RegistrationCreate,
    RegistrationDetail,
    RegistrationRead,
)
from app.registrations.service import RegistrationService

router = APIRouter(tags=["registrations"])


def get_registration_service(
    session: SessionDep, settings: SettingsDep, request: Request
) -> RegistrationService:
    return RegistrationService(session, settings.secret_key, request.app.state.outbox_wake)


RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retries with the same key and body get the first response back (24 h)",
    ),
]


@router.post(
    "/api/events/{event_id}/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationRead,
    responses=problem_responses(401, 404, 409, 422),
)
async def register(
    event_id: uuid.UUID,
    data: RegistrationCreate,
    user_id: CurrentUserId,
    service: RegistrationServiceDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Registers a visitor: the registration is `pending` until confirmed with the 6-digit
    code that the notification service sends to `email`."""
    status_code, body = await service.register(user_id, event_id, data, idempotency_key)
    return JSONResponse(body, status_code=status_code)


@router.post(
    "/api/registrations/{registration_id}/confirm",
    responses=problem_responses(400, 401, 404, 409, 422, 429),
)
async def confirm(
    registration_id: uuid.UUID,
    data: ConfirmRequest,
    user_id: CurrentUserId,
    service: RegistrationServiceDep,
) -> RegistrationRead:
    """Confirms with the emailed code; after 5 wrong codes the registration is locked (429)."""
    return await service.confirm(user_id, registration_id, data.code)


@router.get("/api/registrations", responses=problem_responses(401, 404, 422))
async def list_registrations(
    user_id: CurrentUserId, page: PageRequestDep, request: Request, service: RegistrationServiceDep
) -> Page[RegistrationRead]:
    """The current user's registrations, newest first."""
    return await service.list_mine(user_id, page, request)


@router.get("/api/registrations/{registration_id}", responses=problem_responses(401, 404, 422))
async def get_registration(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationDetail:
    return await service.get(user_id, registration_id)


@router.delete("/api/registrations/{registration_id}", responses=problem_responses(401, 404, 422))
async def cancel_registration(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationRead:
    """Cancels the registration, frees its seat and queues a cancellation notice."""
    return await service.cancel(user_id, registration_id)
