"""Sync errors."""

from app.core.errors import ConflictError


class SyncInProgressError(ConflictError):
    """A sync run holds the lease (on this replica or another): wait for it to finish."""

    slug = "sync-in-progress"
    detail_text = "A sync run is already in progress."
