"""The admin site's views over every table an operator looks at: newest first, with few
columns and long texts cut short, so that a list fits a 1,400-pixel screen."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqladmin import Flash, ModelView, action
from sqladmin.authorization import custom_action
from sqladmin.filters import AllUniqueStringValuesFilter, ForeignKeyFilter
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.pagination import Pagination
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.auth.models import User
from app.dependencies import container_of
from app.events.models import Event, Venue
from app.outbox.models import OutboxMessage, OutboxStatus
from app.outbox.service import OutboxService
from app.privacy.dependencies import own_data_service
from app.privacy.service import Erasure
from app.registrations.models import Registration, WaitlistEntry
from app.sync.models import SyncRun
from app.tickets.models import CheckinScan

SHORT_TEXT = 30  # characters of a long text a list shows; the rest is in its tooltip


def shortened(text: str) -> Markup | str:
    if len(text) <= SHORT_TEXT:
        return text
    return Markup('<span title="{}">{}…</span>').format(text, text[: SHORT_TEXT - 1])


def _shortened(model: Any, attribute: str) -> Markup | str:
    value = getattr(model, attribute)
    return "" if value is None else shortened(str(value))


def _to_the_minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _to_the_second(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def _wrapped(text: str) -> Markup:
    """A text a record's page shows whole, over as many lines as it takes."""
    return Markup('<span class="text-wrap">{}</span>').format(text)


class _View(ModelView):
    """Times in UTC, as stored (the home page says so): to the minute in a list, to the second
    on a record's page."""

    column_type_formatters = {**BASE_FORMATTERS, datetime: _to_the_minute}
    column_type_formatters_detail = {**BASE_FORMATTERS, datetime: _to_the_second, str: _wrapped}


class UserAdmin(_View, model=User):
    icon = "fa-solid fa-user"
    column_list = [
        User.username,
        User.email,
        User.is_staff,
        User.is_door,
        User.is_active,
        User.created_at,
    ]
    column_searchable_list = [User.username, User.email]
    column_sortable_list = [User.username, User.created_at]
    column_default_sort = [(User.created_at, True)]
    column_details_exclude_list = [User.password_hash]
    form_columns = [User.email, User.is_active, User.is_staff, User.is_door]
    column_labels = {User.is_door: "Door (scans tickets)"}
    can_create = False  # users register through the API or `events-face createsuperuser`

    @action(
        name="erase",
        label="Erase",
        confirmation_message=(
            "Erase the selected accounts, as DELETE /api/auth/me does? Their registrations are"
            " cancelled, their waiting entries leave the lists, their names, addresses and"
            " undelivered notices are deleted, their tokens and tickets stop working. This"
            " cannot be undone."
        ),
    )
    async def erase(self, request: Request) -> RedirectResponse:
        container = container_of(request.app)
        ids = [uuid.UUID(pk) for pk in request.query_params.get("pks", "").split(",") if pk]
        erasures: list[Erasure] = []
        for user_id in ids:
            async with container.database.transaction() as work:  # each account in its own
                erasure = await own_data_service(container, work).erase(user_id)
            if erasure is not None:
                erasures.append(erasure)
        Flash.success(request, erasure_summary(erasures, already=len(ids) - len(erasures)))
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), 302)


def erasure_summary(erasures: list[Erasure], already: int) -> str:
    """What the erase action did, in a sentence an operator reads."""

    def total(counted: str, one: str, many: str) -> str:
        number = sum(getattr(erasure, counted) for erasure in erasures)
        return f"{number} {one if number == 1 else many}"

    said = f"Erased {len(erasures)} account{'' if len(erasures) == 1 else 's'}"
    if erasures:
        said += (
            f": {total('registrations_cancelled', 'registration', 'registrations')} cancelled, "
            f"{total('waiting_entries_left', 'waiting entry', 'waiting entries')} left, "
            f"{total('notices_dropped', 'undelivered notice', 'undelivered notices')} dropped, "
            f"{total('notice_texts_deleted', 'delivered text', 'delivered texts')} deleted, "
            f"{total('sessions_ended', 'session', 'sessions')} ended"
        )
    return said + (f"; {already} erased already." if already else ".")


class VenueAdmin(_View, model=Venue):
    icon = "fa-solid fa-building"
    column_list = [Venue.name, Venue.city, Venue.address, Venue.capacity, Venue.changed_at]
    column_formatters = {Venue.name: _shortened, Venue.address: _shortened}
    column_searchable_list = [Venue.name, Venue.city]
    column_sortable_list = [Venue.name, Venue.city, Venue.changed_at]
    column_default_sort = [(Venue.changed_at, True)]
    can_create = can_edit = False  # the provider owns venues; the sync overwrites edits


class EventAdmin(_View, model=Event):
    icon = "fa-solid fa-calendar"
    column_list = [
        Event.name,
        Event.event_time,
        Event.venue,
        Event.provider_status,
        Event.capacity,
        Event.registrations_count,
        Event.waitlist_count,
    ]
    column_labels = {
        Event.provider_status: "Status",
        Event.registrations_count: "Seats taken",
        Event.waitlist_count: "Waiting",
    }
    column_formatters = {Event.name: _shortened, Event.venue: _shortened}
    column_searchable_list = [Event.name]
    column_sortable_list = [Event.name, Event.event_time, Event.changed_at]
    column_default_sort = [(Event.event_time, True)]
    can_create = can_edit = False


class SyncRunAdmin(_View, model=SyncRun):
    icon = "fa-solid fa-rotate"
    column_list = [
        SyncRun.id,
        SyncRun.started_at,
        SyncRun.source,
        SyncRun.mode,
        SyncRun.status,
        SyncRun.created,
        SyncRun.updated,
        SyncRun.error,
    ]
    column_formatters = {SyncRun.source: _shortened, SyncRun.error: _shortened}
    column_default_sort = [(SyncRun.started_at, True)]
    can_create = can_edit = can_delete = False


def _event_link(model: Any, attribute: str, request: Request, *, short: bool) -> Markup:
    """The event of `model.<attribute>` (an event id), by name, linked to its page."""
    event_id = getattr(model, attribute)
    url = request.url_for("admin:details", identity="event", pk=str(event_id))
    name = request.state.event_names.get(event_id, str(event_id))
    return Markup('<a href="{}">{}</a>').format(url, shortened(name) if short else name)


def _event_in_list(model: Any, attribute: str, request: Request) -> Markup:
    return _event_link(model, attribute, request, short=True)


def _event_on_its_page(model: Any, attribute: str, request: Request) -> Markup:
    return _event_link(model, attribute, request, short=False)


class RegistrationAdmin(_View, model=Registration):
    """A registration has no relationship to its event to load (the API never needs one),
    so the names of the events a page shows are read in one query and linked by hand."""

    icon = "fa-solid fa-ticket"
    column_list = [
        Registration.event_id,
        Registration.full_name,
        Registration.email,
        Registration.stored_status,
        Registration.created_at,
    ]
    # The status as recorded: a pending hold past its expires_at is expired for the API
    # already, and recorded so by the sweep within HOLD_SWEEP_INTERVAL_SECONDS.
    column_labels = {
        Registration.event_id: "Event",
        Registration.stored_status: "Status (recorded)",
    }
    column_formatters = {
        Registration.event_id: _event_in_list,
        Registration.full_name: _shortened,
        Registration.email: _shortened,
    }
    column_formatters_detail = {Registration.event_id: _event_on_its_page}
    column_searchable_list = [Registration.full_name, Registration.email]
    column_sortable_list = [Registration.created_at, Registration.stored_status]
    column_default_sort = [(Registration.created_at, True)]
    column_details_exclude_list = [
        Registration.code_hash,
        Registration.email_key,
        Registration.notice_message_id,
    ]
    # Through the API only: a seat, a code and an outbox message go together.
    can_create = can_edit = can_delete = False

    async def list(self, request: Request) -> Pagination:
        page = await super().list(request)
        await _read_event_names(request, {registration.event_id for registration in page.rows})
        return page

    async def get_object_for_details(self, request: Request) -> Any:
        registration = await super().get_object_for_details(request)
        if registration is not None:
            await _read_event_names(request, {registration.event_id})
        return registration


async def _read_event_names(request: Request, event_ids: Iterable[uuid.UUID]) -> None:
    """Keeps the events' names on the request, for the formatters that link them."""
    async with container_of(request.app).database.reading() as connection:
        rows = await connection.execute(
            select(Event.id, Event.name).where(Event.id.in_(list(event_ids)))
        )
    request.state.event_names = {event_id: name for event_id, name in rows}


def _offer_status(entry: Any, _attribute: str) -> str:
    return entry.registration.stored_status if entry.registration else ""


class WaitlistEntryAdmin(_View, model=WaitlistEntry):
    name = "Waiting-list entry"
    name_plural = "Waiting list"
    icon = "fa-solid fa-hourglass-half"
    column_list = [
        WaitlistEntry.event,
        WaitlistEntry.full_name,
        WaitlistEntry.email,
        WaitlistEntry.stored_status,
        WaitlistEntry.created_at,
        WaitlistEntry.registration,
    ]
    column_labels = {
        WaitlistEntry.stored_status: "Status (recorded)",
        WaitlistEntry.registration: "Offer",
    }
    column_formatters = {
        WaitlistEntry.event: _shortened,
        WaitlistEntry.full_name: _shortened,
        WaitlistEntry.email: _shortened,
        WaitlistEntry.registration: _offer_status,
    }
    column_searchable_list = [WaitlistEntry.full_name, WaitlistEntry.email]
    column_sortable_list = [WaitlistEntry.created_at, WaitlistEntry.stored_status]
    column_default_sort = [(WaitlistEntry.created_at, True)]
    # The event and the offer are shown as links to their pages.
    column_details_exclude_list = [
        WaitlistEntry.email_key,
        WaitlistEntry.event_id,
        WaitlistEntry.registration_id,
    ]
    # Through the API only: joining, leaving and offers move the event's seats.
    can_create = can_edit = can_delete = False


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def requeue_report(requeued: int, selected: int) -> str:
    """What a requeue of `selected` messages did, in a sentence."""
    report = f"Requeued {_count(requeued, 'dead message')}"
    left_alone = selected - requeued
    if left_alone == 1:
        return f"{report}; 1 selected message was not dead and was left alone"
    if left_alone:
        return f"{report}; {left_alone} selected messages were not dead and were left alone"
    return report


REQUEUE = "requeue"


class OutboxMessageAdmin(_View, model=OutboxMessage):
    """The payload is never shown: its message text carries the confirmation code."""

    name = "Outbox message"
    icon = "fa-solid fa-paper-plane"
    column_list = [
        OutboxMessage.topic,
        OutboxMessage.status,
        OutboxMessage.attempts,
        OutboxMessage.last_error,
        OutboxMessage.created_at,
    ]
    column_formatters = {OutboxMessage.last_error: _shortened}
    column_details_exclude_list = [OutboxMessage.payload]
    column_filters = [AllUniqueStringValuesFilter(OutboxMessage.status, title="Status")]
    column_sortable_list = [OutboxMessage.created_at, OutboxMessage.status]
    column_default_sort = [(OutboxMessage.created_at, True)]
    can_create = can_edit = can_delete = False

    @action(
        name=REQUEUE,
        label="Requeue",
        confirmation_message="Give the selected dead messages a fresh set of attempts?",
    )
    async def requeue(self, request: Request) -> RedirectResponse:
        pks = request.query_params.get("pks", "")
        ids = {uuid.UUID(pk) for pk in pks.split(",") if pk}
        async with container_of(request.app).database.transaction() as work:
            requeued = await OutboxService(work).requeue_dead(list(ids))
        report = requeue_report(requeued, len(ids))
        if requeued == len(ids):
            Flash.success(request, report)
        else:
            Flash.warning(request, report)
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), 302)

    async def list(self, request: Request) -> Pagination:
        page = await super().list(request)
        request.state.outbox_statuses_shown = {message.status for message in page.rows}
        return page

    async def get_object_for_details(self, request: Request) -> Any:
        message = await super().get_object_for_details(request)
        if message is not None:
            request.state.outbox_statuses_shown = {message.status}
        return message

    def has_permission(self, request: Request, action: str, obj: Any | None = None) -> bool:
        """Requeue is offered only where every message shown is dead: a dead message's page,
        or the list filtered to dead ones. The action itself leaves any other message alone."""
        # Unset on the action's own request, which shows no message.
        shown: set[str] = getattr(request.state, "outbox_statuses_shown", set())
        if action == custom_action(REQUEUE) and shown - {OutboxStatus.DEAD}:
            return False
        return super().has_permission(request, action, obj)


def _visitor(scan: Any, _attribute: str) -> Markup | str:
    return shortened(scan.registration.full_name) if scan.registration else ""


class CheckinScanAdmin(_View, model=CheckinScan):
    """Every scan at the door: `ok` is a check-in; `already-checked-in` a duplicate (a ticket
    shown twice, or admitted by two offline scanners). Filter by event to see its check-ins."""

    name = "Check-in scan"
    icon = "fa-solid fa-qrcode"
    column_list = [
        CheckinScan.event,
        CheckinScan.registration,
        CheckinScan.result,
        CheckinScan.received_at,
    ]
    column_labels = {CheckinScan.registration: "Visitor"}
    column_formatters = {CheckinScan.event: _shortened, CheckinScan.registration: _visitor}
    column_filters = [
        ForeignKeyFilter(CheckinScan.event_id, Event.name, Event, title="Event"),
        AllUniqueStringValuesFilter(CheckinScan.result, title="Result"),
    ]
    # The event, the registration and the door user are shown as links to their pages.
    column_details_exclude_list = [
        CheckinScan.event_id,
        CheckinScan.registration_id,
        CheckinScan.scanned_by,
    ]
    column_sortable_list = [CheckinScan.received_at, CheckinScan.result]
    column_default_sort = [(CheckinScan.received_at, True)]
    can_create = can_edit = can_delete = False


VIEWS: list[type[ModelView]] = [
    UserAdmin,
    VenueAdmin,
    EventAdmin,
    RegistrationAdmin,
    WaitlistEntryAdmin,
    CheckinScanAdmin,
    OutboxMessageAdmin,
    SyncRunAdmin,
]
