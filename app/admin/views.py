"""The admin site's views over every table an operator looks at."""

import uuid

from sqladmin import ModelView, action
from sqladmin.filters import AllUniqueStringValuesFilter, ForeignKeyFilter
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.auth.models import User
from app.dependencies import container_of
from app.events.models import Event, Venue
from app.outbox.models import OutboxMessage
from app.outbox.service import OutboxService
from app.registrations.models import Registration, WaitlistEntry
from app.sync.models import SyncRun
from app.tickets.models import CheckinScan


class UserAdmin(ModelView, model=User):
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
    column_details_exclude_list = [User.password_hash]
    form_columns = [User.email, User.is_active, User.is_staff, User.is_door]
    column_labels = {User.is_door: "Door (scans tickets)"}
    can_create = False  # users register through the API or `events-face createsuperuser`


class VenueAdmin(ModelView, model=Venue):
    icon = "fa-solid fa-building"
    column_list = [Venue.name, Venue.city, Venue.address, Venue.capacity, Venue.changed_at]
    column_searchable_list = [Venue.name, Venue.city]
    column_sortable_list = [Venue.name, Venue.city]
    can_create = can_edit = False  # the provider owns venues; the sync overwrites edits


class EventAdmin(ModelView, model=Event):
    icon = "fa-solid fa-calendar"
    column_list = [
        Event.name,
        Event.event_time,
        Event.provider_status,
        Event.capacity,
        Event.registrations_count,
        Event.waitlist_count,
        Event.changed_at,
    ]
    column_searchable_list = [Event.name]
    column_sortable_list = [Event.name, Event.event_time, Event.changed_at]
    column_default_sort = [(Event.event_time, True)]
    can_create = can_edit = False


class SyncRunAdmin(ModelView, model=SyncRun):
    icon = "fa-solid fa-rotate"
    column_list = [
        SyncRun.id,
        SyncRun.started_at,
        SyncRun.finished_at,
        SyncRun.source,
        SyncRun.mode,
        SyncRun.status,
        SyncRun.created,
        SyncRun.updated,
        SyncRun.unchanged,
        SyncRun.skipped,
    ]
    column_default_sort = [(SyncRun.started_at, True)]
    can_create = can_edit = can_delete = False


class RegistrationAdmin(ModelView, model=Registration):
    icon = "fa-solid fa-ticket"
    column_list = [
        Registration.full_name,
        Registration.email,
        Registration.event_id,
        Registration.stored_status,
        Registration.expires_at,
        Registration.failed_attempts,
        Registration.codes_resent,
        Registration.created_at,
        Registration.confirmed_at,
        Registration.cancelled_at,
        Registration.checked_in_at,
    ]
    # The status as recorded: a pending hold past its expires_at is expired for the API
    # already, and recorded so by the sweep within HOLD_SWEEP_INTERVAL_SECONDS.
    column_labels = {Registration.stored_status: "Status (recorded)"}
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


class WaitlistEntryAdmin(ModelView, model=WaitlistEntry):
    name = "Waiting-list entry"
    name_plural = "Waiting list"
    icon = "fa-solid fa-hourglass-half"
    column_list = [
        WaitlistEntry.full_name,
        WaitlistEntry.email,
        WaitlistEntry.event_id,
        WaitlistEntry.stored_status,
        WaitlistEntry.created_at,
        WaitlistEntry.offered_at,
        WaitlistEntry.registration_id,
        WaitlistEntry.ended_at,
    ]
    column_labels = {WaitlistEntry.stored_status: "Status (recorded)"}
    column_searchable_list = [WaitlistEntry.full_name, WaitlistEntry.email]
    column_sortable_list = [WaitlistEntry.created_at, WaitlistEntry.stored_status]
    column_default_sort = [(WaitlistEntry.created_at, False)]
    column_details_exclude_list = [WaitlistEntry.email_key]
    # Through the API only: joining, leaving and offers move the event's seats.
    can_create = can_edit = can_delete = False


class OutboxMessageAdmin(ModelView, model=OutboxMessage):
    """The payload is never shown: its message text carries the confirmation code."""

    name = "Outbox message"
    icon = "fa-solid fa-paper-plane"
    column_list = [
        OutboxMessage.id,
        OutboxMessage.topic,
        OutboxMessage.status,
        OutboxMessage.attempts,
        OutboxMessage.next_attempt_at,
        OutboxMessage.lease_holder,
        OutboxMessage.last_error,
        OutboxMessage.created_at,
        OutboxMessage.sent_at,
    ]
    column_details_exclude_list = [OutboxMessage.payload]
    column_sortable_list = [OutboxMessage.created_at, OutboxMessage.status]
    column_default_sort = [(OutboxMessage.created_at, True)]
    can_create = can_edit = can_delete = False

    @action(
        name="requeue",
        label="Requeue dead",
        confirmation_message="Give the selected dead messages a fresh set of attempts?",
    )
    async def requeue(self, request: Request) -> RedirectResponse:
        pks = request.query_params.get("pks", "")
        ids = [uuid.UUID(pk) for pk in pks.split(",") if pk]
        async with container_of(request.app).database.transaction() as work:
            await OutboxService(work).requeue_dead(ids)
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), 302)


class CheckinScanAdmin(ModelView, model=CheckinScan):
    """Every scan at the door: `ok` is a check-in; `already-checked-in` a duplicate (a ticket
    shown twice, or admitted by two offline scanners). Filter by event to see its check-ins."""

    name = "Check-in scan"
    icon = "fa-solid fa-qrcode"
    column_list = [
        CheckinScan.event,
        CheckinScan.registration,
        CheckinScan.result,
        CheckinScan.scanned_at,
        CheckinScan.received_at,
        CheckinScan.checked_in_at,
        CheckinScan.door_user,
    ]
    column_filters = [
        ForeignKeyFilter(CheckinScan.event_id, Event.name, Event, title="Event"),
        AllUniqueStringValuesFilter(CheckinScan.result, title="Result"),
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
