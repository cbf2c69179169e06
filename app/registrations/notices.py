"""Every notice a visitor can get, each kind's text in one place (in Russian, as the
notification service's users read them). A notice goes through the outbox, in the same unit of
work as the change it announces.

The notices that follow a change upstream (an event cancelled, an event moved) carry a key: the
outbox keeps one message per key, so that a change applied again — by the sync, by the stream
consumer, by another replica at the same time — notifies nobody twice."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from app.events.models import Event
from app.outbox.service import Outbox


class Notice(StrEnum):
    """The outbox topic of each kind of notice."""

    CODE = "registration.code"
    NEW_CODE = "registration.new_code"
    OFFER = "waitlist.offer"
    CANCELLED = "registration.cancelled"
    EVENT_CANCELLED = "event.cancelled"
    RESCHEDULED = "event.rescheduled"


class Visitor(Protocol):
    """Whom a notice goes to: a registration or a waiting-list entry."""

    @property
    def id(self) -> object: ...
    @property
    def full_name(self) -> str: ...
    @property
    def email(self) -> str: ...


def _moment(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC")


class Notices:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def code(self, to: Visitor, code: str) -> uuid.UUID:
        text = f"Здравствуйте, {to.full_name}! Ваш код подтверждения: {code}"
        return await self._outbox.put(Notice.CODE, to.email, text)

    async def new_code(self, to: Visitor, code: str) -> uuid.UUID:
        text = f"Здравствуйте, {to.full_name}! Ваш новый код подтверждения: {code}"
        return await self._outbox.put(Notice.NEW_CODE, to.email, text)

    async def offer(self, to: Visitor, event: Event, code: str, until: datetime) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Для вас освободилось место на мероприятии "
            f"«{event.name}». Ваш код подтверждения: {code}. "
            f"Подтвердите регистрацию до {_moment(until)}."
        )
        return await self._outbox.put(Notice.OFFER, to.email, text)

    async def cancelled(self, to: Visitor) -> uuid.UUID:
        text = f"Здравствуйте, {to.full_name}! Ваша регистрация на мероприятие отменена."
        return await self._outbox.put(Notice.CANCELLED, to.email, text)

    async def event_cancelled(self, to: Visitor, event: Event) -> uuid.UUID:
        text = f"Здравствуйте, {to.full_name}! Мероприятие «{event.name}» отменено."
        key = f"{Notice.EVENT_CANCELLED}:{to.id}"
        return await self._outbox.put(Notice.EVENT_CANCELLED, to.email, text, key=key)

    async def rescheduled(self, to: Visitor, event: Event, new_time: datetime) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Мероприятие «{event.name}» перенесено на "
            f"{_moment(new_time)}."
        )
        key = f"{Notice.RESCHEDULED}:{to.id}:{new_time.astimezone(UTC).isoformat()}"
        return await self._outbox.put(Notice.RESCHEDULED, to.email, text, key=key)
