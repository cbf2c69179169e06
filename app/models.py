"""Every domain's models, imported in one place so that the metadata (Alembic, admin) is whole."""

from app.auth.models import RefreshToken, User
from app.core.database import Base
from app.events.models import CatalogueVersion, Event, Venue
from app.idempotency.models import IdempotencyKey
from app.outbox.models import OutboxMessage
from app.registrations.models import Registration
from app.stream.models import ParkedStreamMessage
from app.sync.models import Lease, SyncRun
from app.tickets.models import CheckinScan, EventReminder, TicketSigningKey

__all__ = [
    "Base",
    "CatalogueVersion",
    "CheckinScan",
    "Event",
    "EventReminder",
    "IdempotencyKey",
    "Lease",
    "OutboxMessage",
    "ParkedStreamMessage",
    "RefreshToken",
    "Registration",
    "SyncRun",
    "TicketSigningKey",
    "User",
    "Venue",
]
