"""Every notice a visitor can get, each kind's text in one place (in Russian, as the
notification service's users read them). A notice goes through the outbox, in the same unit of
work as the change it announces."""

from enum import StrEnum


class Notice(StrEnum):
    """The outbox topic of each kind of notice."""

    CODE = "registration.code"
    CANCELLED = "registration.cancelled"


def code_text(full_name: str, code: str) -> str:
    return f"Здравствуйте, {full_name}! Ваш код подтверждения: {code}"


def cancelled_text(full_name: str) -> str:
    return f"Здравствуйте, {full_name}! Ваша регистрация на мероприятие отменена."
