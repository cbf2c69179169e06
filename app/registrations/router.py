import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from app.auth.dependencies import (
    AUTHENTICATION_ERRORS,
    AccessTokenBearer,
    CurrentUserId,
    api_bearer,
)
from app.core.database import UnitOfWork
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import Found, Page, PageRequestDep, page_body
from app.dependencies import UnitOfWorkDep, link_base_of, surroundings_of
from app.events.errors import EventNotFoundError
from app.idempotency.dependencies import IdempotencyKeyHeader
from app.idempotency.errors import IdempotencyKeyReusedError
from app.idempotency.service import Asked, Idempotency
from app.registrations.errors import (
    AlreadyRegisteredError,
    AlreadyWaitingError,
    EventFullError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationConfirmedError,
    RegistrationExpiredError,
    RegistrationLimitReachedError,
    RegistrationLockedError,
    RegistrationNotFoundError,
    ResendLimitReachedError,
    ResendTooSoonError,
    SeatsAvailableError,
    WaitlistEntryNotFoundError,
    WaitlistLimitReachedError,
    WrongCodeError,
)
from app.registrations.schemas import (
    ConfirmRequest,
    RegistrationCreate,
    RegistrationDetail,
    RegistrationRead,
    WaitlistEntryRead,
)
from app.registrations.service import RegistrationService, refuse_if_known_full

router = APIRouter(tags=["registrations"])
waitlist_router = APIRouter(tags=["waitlist"])


def registration_service(work: UnitOfWork, request: Request) -> RegistrationService:
    """The service in the request's unit of work. The routes that create (and so need the unit
    of work for their Idempotency-Key too) make it with this rather than take
    RegistrationServiceDep: FastAPI resolves each dependency on every request, and its own again
    even when cached, about 0.1 M instructions apiece on the registering path (bench/README.md)."""
    return RegistrationService(work, surroundings_of(request))


async def get_registration_service(request: Request, work: UnitOfWorkDep) -> RegistrationService:
    return registration_service(work, request)


RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]


class RegisteringUser(AccessTokenBearer):
    """The bearer of the registering route, which also refuses an event this process knows
    full: where most requests end once sales open, ahead of the body's validation, the unit of
    work and the idempotency record (half the instructions of such a 409, bench/README.md).
    One dependency rather than a refusal over the bearer: FastAPI resolves each on every
    request, about 0.1 M instructions apiece (bench/README.md). Not under an Idempotency-Key:
    the retry of a registration made before the event filled gets its 201. The event's id and
    the header are only looked at here; the route validates them. `register` names it before
    its unit of work, which FastAPI would otherwise enter first."""

    async def __call__(self, request: Request) -> uuid.UUID:  # type: ignore[override]
        user_id = await super().__call__(request)
        if "idempotency-key" not in request.headers:
            event_id = _uuid_or_none(request.path_params["event_id"])
            if event_id is not None:
                await refuse_if_known_full(surroundings_of(request).full_events, event_id)
        return user_id


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None  # the route's validation answers it


registering_user = api_bearer(RegisteringUser)


ONE_OF_MINE = (*AUTHENTICATION_ERRORS, RegistrationNotFoundError, RequestInvalidError)
ENTRY_OF_MINE = (*AUTHENTICATION_ERRORS, WaitlistEntryNotFoundError, RequestInvalidError)
LIST_ERRORS = (*AUTHENTICATION_ERRORS, PageNotFoundError, RequestInvalidError)


@router.post(
    "/api/events/{event_id}/register",
    operation_id="registrations_create",
    summary="Register a visitor for an event",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *AUTHENTICATION_ERRORS,
        EventNotFoundError,
        RegistrationClosedError,
        EventFullError,
        AlreadyRegisteredError,
        RegistrationLimitReachedError,
        RequestInvalidError,
        IdempotencyKeyReusedError,
    ),
)
async def register(
    event_id: uuid.UUID,
    data: RegistrationCreate,
    user_id: Annotated[uuid.UUID, Depends(registering_user)],
    work: UnitOfWorkDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RegistrationRead:
    """Registers a visitor: the registration is `pending` — it holds a seat — until confirmed
    with the 6-digit code that the notification service sends to `email`, or until its
    `expires_at` passes (then `expired`, and the seat is free again). A full event answers 409
    `/problems/event-full`: join its waiting list instead."""
    service = registration_service(work, request)

    async def create() -> RegistrationRead:
        registration = await service.register(user_id, event_id, data, link_base_of(request))
        return RegistrationRead.model_validate(registration)

    idempotency = Idempotency(work, user_id, idempotency_key)
    return await idempotency.once(Asked("register", event_id, data), RegistrationRead, create)


@router.post(
    "/api/registrations/{registration_id}/confirm",
    operation_id="registrations_confirm",
    summary="Confirm a registration with its code",
    responses=problem_responses(
        *ONE_OF_MINE,
        WrongCodeError,
        RegistrationCancelledError,
        RegistrationExpiredError,
        RegistrationLockedError,
    ),
)
async def confirm(
    registration_id: uuid.UUID,
    data: ConfirmRequest,
    user_id: CurrentUserId,
    service: RegistrationServiceDep,
    request: Request,
) -> RegistrationRead:
    """Confirms with the emailed code, which issues the ticket (`GET …/ticket`) and queues a
    notice with its link; after 5 wrong codes the registration is locked (429). An expired hold
    cannot be confirmed (409)."""
    registration = await service.confirm(user_id, registration_id, data.code, link_base_of(request))
    return RegistrationRead.model_validate(registration)


@router.post(
    "/api/registrations/{registration_id}/resend-code",
    operation_id="registrations_resend_code",
    summary="Send a new confirmation code",
    responses=problem_responses(
        *ONE_OF_MINE,
        RegistrationConfirmedError,
        RegistrationCancelledError,
        RegistrationExpiredError,
        RegistrationLockedError,
        ResendTooSoonError,
        ResendLimitReachedError,
    ),
)
async def resend_code(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationRead:
    """Queues a new code for a pending registration; the old one stops working. At most 3, and
    not sooner than CODE_RESEND_INTERVAL_SECONDS after the last (429 with `Retry-After`). The
    hold is not extended."""
    return RegistrationRead.model_validate(await service.resend_code(user_id, registration_id))


@router.get(
    "/api/registrations",
    operation_id="registrations_list",
    summary="List my registrations",
    responses=problem_responses(*LIST_ERRORS),
)
async def list_registrations(
    user_id: CurrentUserId, page: PageRequestDep, request: Request, service: RegistrationServiceDep
) -> Page[RegistrationRead]:
    """The current user's registrations, newest first."""
    found = await service.list_mine(user_id, page)
    return Page[RegistrationRead].model_validate(
        page_body(request.url, page, found), from_attributes=True
    )


@router.get(
    "/api/registrations/{registration_id}",
    operation_id="registrations_get",
    summary="Get one of my registrations",
    responses=problem_responses(*ONE_OF_MINE),
)
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


@router.delete(
    "/api/registrations/{registration_id}",
    operation_id="registrations_cancel",
    summary="Cancel a registration",
    responses=problem_responses(*ONE_OF_MINE),
)
async def cancel_registration(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> RegistrationRead:
    """Cancels the registration, frees its seat (offered to the waiting list first) and queues
    a cancellation notice. Cancelling a cancelled or expired registration changes nothing."""
    return RegistrationRead.model_validate(await service.cancel(user_id, registration_id))


@waitlist_router.post(
    "/api/events/{event_id}/waitlist",
    operation_id="waitlist_join",
    summary="Join an event's waiting list",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *AUTHENTICATION_ERRORS,
        EventNotFoundError,
        RegistrationClosedError,
        SeatsAvailableError,
        AlreadyRegisteredError,
        AlreadyWaitingError,
        RegistrationLimitReachedError,
        WaitlistLimitReachedError,
        RequestInvalidError,
        IdempotencyKeyReusedError,
    ),
)
async def join_waitlist(
    event_id: uuid.UUID,
    data: RegistrationCreate,
    user_id: CurrentUserId,
    work: UnitOfWorkDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> WaitlistEntryRead:
    """Waits for a seat at a full event. The next seat that frees goes to the oldest waiting
    entry: a pending registration is made for it, and its code comes in an offer notice."""
    service = registration_service(work, request)

    async def join() -> WaitlistEntryRead:
        return WaitlistEntryRead.of(*await service.join_waitlist(user_id, event_id, data))

    idempotency = Idempotency(work, user_id, idempotency_key)
    return await idempotency.once(Asked("waitlist", event_id, data), WaitlistEntryRead, join)


@waitlist_router.get(
    "/api/waitlist",
    operation_id="waitlist_list",
    summary="List my waiting-list entries",
    responses=problem_responses(*LIST_ERRORS),
)
async def list_waitlist(
    user_id: CurrentUserId, page: PageRequestDep, request: Request, service: RegistrationServiceDep
) -> Page[WaitlistEntryRead]:
    """The current user's waiting-list entries, newest first."""
    found = await service.list_entries(user_id, page)
    items = [WaitlistEntryRead.of(entry, position) for entry, position in found.items]
    return Page[WaitlistEntryRead].model_validate(
        page_body(request.url, page, Found(items, found.count))
    )


@waitlist_router.get(
    "/api/waitlist/{entry_id}",
    operation_id="waitlist_get",
    summary="Get one of my waiting-list entries",
    responses=problem_responses(*ENTRY_OF_MINE),
)
async def get_waitlist_entry(
    entry_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> WaitlistEntryRead:
    return WaitlistEntryRead.of(*await service.get_entry(user_id, entry_id))


@waitlist_router.delete(
    "/api/waitlist/{entry_id}",
    operation_id="waitlist_leave",
    summary="Leave a waiting list",
    responses=problem_responses(*ENTRY_OF_MINE),
)
async def leave_waitlist(
    entry_id: uuid.UUID, user_id: CurrentUserId, service: RegistrationServiceDep
) -> WaitlistEntryRead:
    """Leaves the waiting list; leaving twice changes nothing. (An entry already offered a
    seat keeps its offer: cancel that registration to give the seat up.)"""
    return WaitlistEntryRead.of(*await service.leave_waitlist(user_id, entry_id))
