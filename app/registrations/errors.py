"""Registration errors: each case a client may want to tell apart has its own problem type."""

from app.core.database import RecordedFailure
from app.core.errors import BadRequestError, ConflictError, NotFoundError, TooManyRequestsError


class RegistrationNotFoundError(NotFoundError):
    """No registration of the current user has this id."""

    slug = "registration-not-found"
    detail_text = "Registration not found."


class RegistrationClosedError(ConflictError):
    """Registration for the event is not open (its deadline passed, or the provider closed,
    finished or cancelled it)."""

    slug = "registration-closed"
    detail_text = "Registration for this event is closed."


class EventFullError(ConflictError):
    """The event has no seat for a direct registration."""

    slug = "event-full"
    detail_text = "No seats left for this event."


class AlreadyRegisteredError(ConflictError):
    """This email already holds a registration for the event that is not cancelled."""

    slug = "already-registered"
    detail_text = "This email is already registered for this event."


class RegistrationCancelledError(ConflictError):
    """The registration is cancelled."""

    slug = "registration-cancelled"
    detail_text = "This registration is cancelled."


class WrongCodeError(RecordedFailure, BadRequestError):
    """The confirmation code is not the registration's; the attempt is counted."""

    slug = "wrong-code"
    detail_text = "Wrong confirmation code."


class RegistrationLockedError(TooManyRequestsError):
    """Five wrong codes locked the registration."""

    slug = "registration-locked"
    detail_text = "Too many wrong codes: this registration is locked."
