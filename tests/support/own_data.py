"""What a test reads of a visitor's own data: their notices as the outbox keeps them."""

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from app.outbox.models import OutboxMessage
from tests.conftest import database_of


async def notices_kept(app: FastAPI, user_id: object) -> list[OutboxMessage]:
    """The outbox messages about the user's registrations and entries, oldest first."""
    async with database_of(app).transaction() as work:
        rows = await work.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == uuid.UUID(str(user_id)))
            .order_by(OutboxMessage.created_at)
        )
        return list(rows)
