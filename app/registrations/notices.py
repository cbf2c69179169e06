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

from app.events.models import Event, Venue
from app.outbox.service import Letter, Outbox


class Notice(StrEnum):
    """The outbox topic of each kind of notice."""

    CODE = "registration.code"
    NEW_CODE = "registration.new_code"
    OFFER = "waitlist.offer"
    CONFIRMED = "registration.confirmed"
    CANCELLED = "registration.cancelled"
    EVENT_CANCELLED = "event.cancelled"
    RESCHEDULED = "event.rescheduled"
    REMINDER = "registration.reminder"


class Visitor(Protocol):
    """Whom a notice goes to: a registration or a waiting-list entry."""

    @property
    def id(self) -> object: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def full_name(self) -> str: ...
    @property
    def email(self) -> str: ...


class Holder(Visitor, Protocol):
    """A registration: its links start where the visitor reached us when confirming."""

    @property
    def link_base(self) -> str | None: ...


def _moment(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC")


def _when(event: Event) -> str:
    return _moment(event.event_time) if event.event_time else "время уточняется"


def _where(venue: Venue | None) -> str:
    return venue.place_line if venue is not None else "место уточняется"


def _in_time(seconds: int) -> str:
    hours, minutes = divmod(round(seconds / 60), 60)
    if hours and minutes:
        return f"{hours} ч {minutes} мин"
    return f"{hours} ч" if hours else f"{max(minutes, 1)} мин"


class Notices:
    def __init__(self, outbox: Outbox, public_base_url: str | None) -> None:
        self._outbox = outbox
        self._public_base_url = public_base_url

    def links_base(self, to: Holder) -> str | None:
        """Where the links in a notice to `to` start: PUBLIC_BASE_URL, or else where the
        visitor reached us when confirming (None: no link can be given)."""
        return self._public_base_url or to.link_base

    def _link(self, to: Holder, label: str, path: str) -> str:
        """ " Label: <absolute link>." to the registration's `path`, or "" with no base."""
        base = self.links_base(to)
        return f" {label}: {base}/api/registrations/{to.id}/{path}." if base else ""

    def _ticket(self, to: Holder) -> str:
        return self._link(to, "Билет", "ticket")

    def _calendar(self, to: Holder) -> str:
        return self._link(to, "Календарь", "calendar.ics")

    def code(self, to: Visitor, event_name: str, code: str, until: datetime) -> Letter:
        """Composed, not written: it goes with the seat it announces (`Catalogue.take_seat`)."""
        text = (
            f"Здравствуйте, {to.full_name}! Ваш код подтверждения: {code} — регистрация на "
            f"мероприятие «{event_name}». Место за вами до {_moment(until)}."
        )
        return self._outbox.compose(Notice.CODE, to, text, code=code)

    async def new_code(self, to: Visitor, event_name: str, code: str) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Ваш новый код подтверждения: {code} — регистрация "
            f"на мероприятие «{event_name}»."
        )
        return await self._outbox.put(self._outbox.compose(Notice.NEW_CODE, to, text, code=code))

    async def offer(self, to: Visitor, event: Event, code: str, until: datetime) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Для вас освободилось место на мероприятии "
            f"«{event.name}». Ваш код подтверждения: {code}. "
            f"Подтвердите регистрацию до {_moment(until)}."
        )
        return await self._outbox.put(self._outbox.compose(Notice.OFFER, to, text, code=code))

    async def confirmed(self, to: Holder, event: Event, venue: Venue | None) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Ваша регистрация на мероприятие «{event.name}» "
            f"подтверждена. Когда: {_when(event)}. Где: {_where(venue)}."
            f"{self._ticket(to)}{self._calendar(to)}"
        )
        return await self._outbox.put(self._outbox.compose(Notice.CONFIRMED, to, text))

    async def cancelled(self, to: Visitor, event: Event) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Ваша регистрация на мероприятие «{event.name}» "
            "отменена."
        )
        return await self._outbox.put(self._outbox.compose(Notice.CANCELLED, to, text))

    async def event_cancelled(self, to: Visitor, event: Event) -> uuid.UUID:
        text = f"Здравствуйте, {to.full_name}! Мероприятие «{event.name}» отменено."
        key = f"{Notice.EVENT_CANCELLED}:{to.id}"
        return await self._outbox.put(
            self._outbox.compose(Notice.EVENT_CANCELLED, to, text, key=key)
        )

    async def rescheduled(self, to: Holder, event: Event, new_time: datetime) -> uuid.UUID:
        text = (
            f"Здравствуйте, {to.full_name}! Мероприятие «{event.name}» перенесено на "
            f"{_moment(new_time)}.{self._ticket(to)}{self._calendar(to)}"
        )
        key = f"{Notice.RESCHEDULED}:{to.id}:{new_time.astimezone(UTC).isoformat()}"
        return await self._outbox.put(self._outbox.compose(Notice.RESCHEDULED, to, text, key=key))

    async def reminder(
        self, to: Holder, event: Event, venue: Venue | None, offset_seconds: int
    ) -> uuid.UUID:
        """One per registration, offset and event time, whoever puts it and however often."""
        assert event.event_time is not None
        text = (
            f"Здравствуйте, {to.full_name}! Напоминаем: мероприятие «{event.name}» начнётся "
            f"через {_in_time(offset_seconds)}, {_moment(event.event_time)}. "
            f"Где: {_where(venue)}.{self._ticket(to)}"
        )
        when = event.event_time.astimezone(UTC).isoformat()
        key = f"{Notice.REMINDER}:{to.id}:{offset_seconds}:{when}"
        return await self._outbox.put(self._outbox.compose(Notice.REMINDER, to, text, key=key))
