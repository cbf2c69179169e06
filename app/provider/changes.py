"""What applying a batch of provider records did: the counts a sync run records, and the changes
to stored events that their registrations must follow (app.registrations.lifecycle)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class BatchCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "BatchCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True, slots=True)
class EventChange:
    """A change the provider made to a stored event that its registrations must follow."""

    event_id: uuid.UUID
    cancelled: bool = False
    rescheduled_to: datetime | None = None
    # Capacity or provider status changed: seats may be offered, or the waiting list closed.
    seats_or_status: bool = False


@dataclass
class Applied:
    """What one batch of provider records did to the catalogue."""

    counts: BatchCounts = field(default_factory=BatchCounts)
    changes: list[EventChange] = field(default_factory=list)
