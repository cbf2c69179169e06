import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUserId
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import Page, PageRequestDep, page_body
from app.dependencies import UnitOfWorkDep, container_of
from app.events.errors import EventNotFoundError
from app.idempotency.dependencies import IdempotencyDep
from app.idempotency.errors import IdempotencyKeyReusedError
from app.idempotency.service import fingerprint
from app.registrations.errors import (
    AlreadyRegisteredError,
    EventFullError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationLockedError,
    RegistrationNotFoundError,
    WrongCodeError,
)
from app.registrations.schemas import (
    ConfirmRequest,
    RegistrationCreate,
    RegistrationDetail,
    RegistrationRead,
)
from app.registrations.service import RegistrationService

router = APIRouter(tags=["registrations"])


async def get_registration_service(request: Request, work: UnitOfWorkDep) -> RegistrationService:
    container = container_of(request.app)
    return RegistrationService(work, container.settings.secret_key, container.relay_wake)


RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]
ONE_OF_MINE = (*AUTHENTICATION_ERRORS, RegistrationNotFoundError, RequestInvalidError)


@router.post(
    "/api/events/{event_id}/register",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *AUTHENTICATION_ERRORS,
        EventNotFoundError,
        RegistrationClosedError,
        EventFullError,
        AlreadyRegisteredError,
        RequestInvalidError,
        IdempotencyKeyReusedError,
    ),
)
async def register(
    event_id: uuid.UUID,
    data: RegistrationCreate,
    user_id: CurrentUserId,
    service: RegistrationServiceDep,
    idempotency: IdempotencyDep,
) -> RegistrationRead:
    """Registers a visitor: the registration is `pending` until confirmed with the 6-digit
    code that the notification service sends to `email`."""

    async def create() -> RegistrationRead:
        return RegistrationRead.model_validate(await service.register(user_id, event_id, data))

    return await idempotency.once(fingerprint("register", event_id, data), RegistrationRead, create)


@router.post(
    "/api/registrations/{registration_id}/confirm",
    responses=problem_responses(
        *ONE_OF_MINE, WrongCodeError, RegistrationCancelledError, RegistrationLockedError
    ),
)
async def confirm(
    registration_id: uuid.UUID,
    data: ConfirmRequest,
    user_id: CurrentUserId,
    service: RegistrationServiceDep,
) -> RegistrationRead:
    """Confirms with the emailed code; after 5 wrong codes the registration is locked (429)."""
    registration = await service.confirm(user_id, registration_id, data.code)
    return RegistrationRead.model_validate(registration)


@router.get(
    "/api/registrations",
    responses=problem_responses(*AUTHENTICATION_ERRORS, PageNotFoundError, RequestInvalidError),
)
async def list_registrations(
    user_id: CurrentUserId, page: PageRequestDep, request: Request, service: RegistrationServiceDep
) -> Page[RegistrationRead]:
    """The current user's registrations, newest first."""
    found = await service.list_mine(user_id, page)
    return Page[RegistrationRead].model_validate(
        page_body(request.url, page, found), from_attributes=True
    )


@router.get("/api/registrations/{registration_id}", responses=problem_responses(*ONE_OF_MINE))
async def get_registration(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationDetail:
    registration, notification_status = await service.get(user_id, registration_id)
    return RegistrationDetail.model_validate(
        {
            **RegistrationRead.model_validate(registration).model_dump(),
            "notification_status": notification_status,
        }
    )


@router.delete("/api/registrations/{registration_id}", responses=problem_responses(*ONE_OF_MINE))
async def cancel_registration(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationRead:
    """Cancels the registration, frees its seat and queues a cancellation notice."""
    return RegistrationRead.model_validate(await service.cancel(user_id, registration_id))
