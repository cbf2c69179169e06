from sqlalchemy.ext.asyncio import AsyncSession

from app.stream.models import ParkedStreamMessage

ERROR_LENGTH = 500


class ParkedMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def park(self, topic: str, position: str, payload: str, error: str) -> None:
        self.session.add(
            ParkedStreamMessage(
                topic=topic, position=position, payload=payload, error=error[:ERROR_LENGTH]
            )
        )
