import hashlib
import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUserId, DoorUser
from app.auth.errors import DoorOnlyError
from app.core.errors import PageNotFoundError, RequestInvalidError, problem_responses
from app.core.pagination import Found, Page, page_body
from app.dependencies import (
    DatabaseDep,
    MetricsDep,
    TicketKeyringDep,
    UnitOfWorkDep,
    link_base_of,
    surroundings_of,
)
from app.events.errors import EventNotFoundError
from app.registrations.errors import (
    RegistrationCancelledError,
    RegistrationExpiredError,
    RegistrationNotFoundError,
)
from app.registrations.models import RegistrationStatus
from app.tickets.errors import (
    SCAN_REFUSALS,
    EventNotScheduledError,
    RegistrationNotConfirmedError,
    scan_refusal,
)
from app.tickets.models import ScanResult
from app.tickets.qr import qr_image
from app.tickets.schemas import (
    Attendee,
    AttendeeEntry,
    AttendeeQuery,
    BatchAnswer,
    BatchRequest,
    BatchScanAnswer,
    ScanAnswer,
    ScanRequest,
    TicketEvent,
    TicketRead,
)
from app.tickets.service import CheckinService, ScanOutcome, Ticket, TicketService
from app.tickets.signing import TicketKeys

router = APIRouter(tags=["tickets"])
checkin_router = APIRouter(tags=["checkin"])

CALENDAR = "text/calendar; charset=utf-8"


class ImageKind(StrEnum):
    SVG = "svg"
    PNG = "png"


IMAGE_TYPES = {ImageKind.SVG: "image/svg+xml", ImageKind.PNG: "image/png"}
TICKET_ERRORS = (
    *AUTHENTICATION_ERRORS,
    RegistrationNotFoundError,
    RegistrationNotConfirmedError,
    RegistrationCancelledError,
    RegistrationExpiredError,
    RequestInvalidError,
)
DOOR_ERRORS = (*AUTHENTICATION_ERRORS, DoorOnlyError, EventNotFoundError, RequestInvalidError)


async def get_ticket_keys(keyring: TicketKeyringDep, database: DatabaseDep) -> TicketKeys:
    return await keyring.keys(database)


TicketKeysDep = Annotated[TicketKeys, Depends(get_ticket_keys)]


async def get_ticket_service(
    request: Request, keys: TicketKeysDep, work: UnitOfWorkDep
) -> TicketService:
    return TicketService(work, surroundings_of(request).catalogue_version, keys)


async def get_checkin_service(
    request: Request, keys: TicketKeysDep, work: UnitOfWorkDep, metrics: MetricsDep
) -> CheckinService:
    return CheckinService(work, surroundings_of(request).catalogue_version, keys, metrics)


TicketServiceDep = Annotated[TicketService, Depends(get_ticket_service)]
CheckinServiceDep = Annotated[CheckinService, Depends(get_checkin_service)]
AttendeeQueryDep = Annotated[AttendeeQuery, Depends(AttendeeQuery.from_query)]


def _ticket_body(ticket: Ticket) -> TicketRead:
    registration = ticket.registration
    return TicketRead(
        registration_id=registration.id,
        event=TicketEvent.model_validate(ticket.event),
        full_name=registration.full_name,
        token=ticket.token,
        issued_at=registration.ticket_issued_at or registration.created_at,
    )


@router.get(
    "/api/registrations/{registration_id}/ticket",
    operation_id="tickets_get",
    summary="Get a registration's ticket",
    responses=problem_responses(*TICKET_ERRORS),
)
async def get_ticket(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: TicketServiceDep
) -> TicketRead:
    """The ticket of a confirmed registration: show its `token` (or its QR code, `ticket.svg`,
    `ticket.png`) at the door."""
    return _ticket_body(await service.ticket(user_id, registration_id))


@router.get(
    "/api/registrations/{registration_id}/ticket.{image}",
    operation_id="tickets_get_image",
    summary="Get a ticket's QR code as an image",
    response_class=Response,
    responses={
        200: {"content": {kind: {} for kind in IMAGE_TYPES.values()}},
        **problem_responses(*TICKET_ERRORS),
    },
)
async def get_ticket_image(
    registration_id: uuid.UUID,
    image: ImageKind,
    user_id: CurrentUserId,
    service: TicketServiceDep,
) -> Response:
    """The ticket's token as a QR code: `ticket.svg` or `ticket.png`."""
    ticket = await service.ticket(user_id, registration_id)
    return Response(qr_image(ticket.token, image), media_type=IMAGE_TYPES[image])


@router.post(
    "/api/registrations/{registration_id}/ticket/reissue",
    operation_id="tickets_reissue",
    summary="Reissue a ticket, revoking the old one",
    responses=problem_responses(*TICKET_ERRORS),
)
async def reissue_ticket(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: TicketServiceDep
) -> TicketRead:
    """A new token for the ticket (a screenshot went round, a phone was lost): the old one is
    refused at the door from now on."""
    return _ticket_body(await service.reissue(user_id, registration_id))


@router.get(
    "/api/registrations/{registration_id}/calendar.ics",
    operation_id="tickets_get_calendar",
    summary="Get a registration's calendar file",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        **problem_responses(
            *AUTHENTICATION_ERRORS,
            RegistrationNotFoundError,
            EventNotScheduledError,
            RequestInvalidError,
        ),
    },
)
async def get_registration_calendar(
    registration_id: uuid.UUID, user_id: CurrentUserId, service: TicketServiceDep, request: Request
) -> Response:
    """The event as an iCalendar entry that links the ticket; `STATUS:CANCELLED` once the
    event or the registration is cancelled, a higher `SEQUENCE` each time the event moves."""
    body = await service.registration_calendar(user_id, registration_id, link_base_of(request))
    return Response(body, media_type=CALENDAR)


@router.get(
    "/api/events/{event_id}/calendar.ics",
    operation_id="tickets_get_event_calendar",
    summary="Get an event's calendar file",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        **problem_responses(
            *AUTHENTICATION_ERRORS, EventNotFoundError, EventNotScheduledError, RequestInvalidError
        ),
    },
)
async def get_event_calendar(
    event_id: uuid.UUID, _user: CurrentUserId, service: TicketServiceDep
) -> Response:
    """The event as an iCalendar entry, with the same UID as every registration's."""
    return Response(await service.event_calendar(event_id), media_type=CALENDAR)


@checkin_router.get(
    "/api/checkin/keys",
    operation_id="checkin_list_keys",
    summary="The public keys that verify tickets",
)
async def get_checkin_keys(keys: TicketKeysDep) -> dict[str, Any]:
    """The public keys that verify ticket tokens, as a JWK set (Ed25519, each with its `kid`):
    a scanner verifies tokens with these alone, offline."""
    return keys.jwks()


def _attendee(outcome: ScanOutcome) -> Attendee | None:
    registration = outcome.registration
    if registration is None or outcome.result is ScanResult.REVOKED_TICKET:
        return None
    return Attendee(
        id=registration.id,
        event_id=registration.event_id,
        full_name=registration.full_name,
        ticket_version=registration.ticket_version,
        checked_in_at=registration.checked_in_at,
    )


@checkin_router.post(
    "/api/checkin",
    operation_id="checkin_scan",
    summary="Check a ticket in at the door",
    responses=problem_responses(*DOOR_ERRORS, *SCAN_REFUSALS),
)
async def check_in(scan: ScanRequest, door: DoorUser, service: CheckinServiceDep) -> ScanAnswer:
    """Scans a ticket at the door: the first valid scan checks it in; each other outcome is a
    problem of its own (`already-checked-in` carries the first `checked_in_at`). The same
    `nonce` sent again returns the first answer."""
    outcome = await service.scan(door.id, scan)
    if outcome.result is not ScanResult.OK:
        answer = _attendee(outcome)
        raise scan_refusal(outcome.result)(
            outcome.checked_in_at, answer.full_name if answer else None
        )
    return ScanAnswer(
        result=outcome.result, checked_in_at=outcome.checked_in_at, registration=_attendee(outcome)
    )


@checkin_router.post(
    "/api/checkin/batch",
    operation_id="checkin_upload_batch",
    summary="Upload scans made offline",
    responses=problem_responses(*DOOR_ERRORS),
)
async def check_in_batch(
    batch: BatchRequest, door: DoorUser, service: CheckinServiceDep
) -> BatchAnswer:
    """Uploads scans an offline scanner made (at most 500), each with its `nonce` and
    `scanned_at`: one result per scan, in order. Uploading the same batch again changes
    nothing and returns the same results."""
    outcomes = await service.scan_batch(door.id, batch.scans)
    return BatchAnswer(
        results=[
            BatchScanAnswer(
                nonce=scan.nonce,
                result=outcome.result,
                checked_in_at=outcome.checked_in_at,
                registration=_attendee(outcome),
                type=None
                if outcome.result is ScanResult.OK
                else scan_refusal(outcome.result).type_uri(),
            )
            for scan, outcome in zip(batch.scans, outcomes, strict=True)
        ]
    )


@checkin_router.get(
    "/api/events/{event_id}/attendees",
    operation_id="checkin_list_attendees",
    summary="List an event's attendees for offline scanning",
    response_model=Page[AttendeeEntry],
    responses={
        200: {"headers": {"ETag": {"description": "Send it back in If-None-Match"}}},
        304: {"description": "Not Modified: nothing changed since the copy named"},
        **problem_responses(*DOOR_ERRORS, PageNotFoundError),
    },
)
async def list_attendees(
    event_id: uuid.UUID,
    query: AttendeeQueryDep,
    request: Request,
    _door: DoorUser,
    service: CheckinServiceDep,
) -> Response:
    """The event's tickets for an offline scanner, oldest change first: each ticket's valid
    version, name and check-in; revoked ones with `revoked: true`. With `changed_since`, only
    what changed after it (pass the last `changed_at` you hold). ETag and 304 as the catalogue."""
    found = await service.attendees(event_id, query.changed_since, query)
    entries = [
        AttendeeEntry(
            registration_id=registration.id,
            ticket_version=registration.ticket_version,
            full_name=registration.full_name,
            checked_in_at=registration.checked_in_at,
            revoked=registration.stored_status != RegistrationStatus.CONFIRMED,
            changed_at=registration.ticket_changed_at or registration.created_at,
        )
        for registration in found.items
    ]
    page = Page[AttendeeEntry](**page_body(request.url, query, Found(entries, found.count)))
    body = page.model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})
