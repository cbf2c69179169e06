from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    mode: Mapped[str] = mapped_column(String(16))
    # The provider's URL (no credentials), or local mode's generator: see EventsSource.
    source: Mapped[str | None] = mapped_column(String(500))
    changed_since: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A named, expiring lock row: one holder at a time across replicas, on any database
    (and behind PgBouncer, unlike session advisory locks). A holder that dies simply stops
    renewing, and the lease is taken over once `expires_at` has passed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
