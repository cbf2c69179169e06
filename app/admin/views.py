"""The admin site's views over every table an operator looks at."""

from sqladmin import ModelView

from app.auth.models import User
from app.events.models import Event, Venue
from app.sync.models import SyncRun


class UserAdmin(ModelView, model=User):
    icon = "fa-solid fa-user"
    column_list = [User.username, User.email, User.is_staff, User.is_active, User.created_at]
    column_searchable_list = [User.username, User.email]
    column_sortable_list = [User.username, User.created_at]
    column_details_exclude_list = [User.password_hash]
    form_columns = [User.email, User.is_active, User.is_staff]
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
        SyncRun.mode,
        SyncRun.status,
        SyncRun.created,
        SyncRun.updated,
        SyncRun.unchanged,
        SyncRun.skipped,
    ]
    column_default_sort = [(SyncRun.started_at, True)]
    can_create = can_edit = can_delete = False


VIEWS: list[type[ModelView]] = [UserAdmin, VenueAdmin, EventAdmin, SyncRunAdmin]
