import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow


class User(Base):
    """An account. An erased one (SPEC §4.7) keeps its id, so that what refers to it stays
    whole, and nothing else of the person: a placeholder username, no email, a password nobody
    knows, `erased_at` set."""

    __tablename__ = "users"
    # Read at start and at each erasure: the accounts erased while their tokens may still live.
    __table_args__ = (Index("ix_users_erased_at", "erased_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_staff: Mapped[bool] = mapped_column(default=False)
    # Scans tickets at the door (SPEC §4.6); grants nothing else.
    is_door: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None]

    def __str__(self) -> str:
        return self.username


class RefreshToken(Base):
    """Every refresh token issued, until it expires: rotation, reuse detection and logout
    all need to know a token's family and whether it was already used."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
