from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow


class ParkedStreamMessage(Base):
    """A stream message that could not be read or applied, kept (with why) instead of being
    retried forever, so that the stream moves on. `position` is the broker's address of the
    message: the Kafka `partition:offset`, or the Redis Streams entry id."""

    __tablename__ = "parked_stream_messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(255))
    position: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
