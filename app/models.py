"""Every domain's models, imported in one place so that the metadata (Alembic, admin) is whole."""

from app.auth.models import RefreshToken, User
from app.core.database import Base
from app.events.models import Event, Venue
from app.sync.models import Lease, SyncRun

__all__ = ["Base", "Event", "Lease", "RefreshToken", "SyncRun", "User", "Venue"]
