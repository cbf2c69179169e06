"""Catalogue errors."""

from app.core.errors import NotFoundError


class EventNotFoundError(NotFoundError):
    """No event has this id."""

    slug = "event-not-found"
    detail_text = "Event not found."
