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
    """The event has no seat for a direct registration: every seat is held or taken, or people
    are waiting for the ones that free. Join the waiting list (`POST /api/events/{id}/waitlist`)."""

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


class RegistrationExpiredError(ConflictError):
    """The registration's hold ended before it was confirmed: its seat went to somebody else.
    Register again (or join the waiting list)."""

    slug = "registration-expired"
    detail_text = "This registration expired before it was confirmed."


class RegistrationConfirmedError(ConflictError):
    """The registration is confirmed already: there is no code to send."""

    slug = "registration-confirmed"
    detail_text = "This registration is already confirmed."


class ResendTooSoonError(TooManyRequestsError):
    """A code went out less than CODE_RESEND_INTERVAL_SECONDS ago; `Retry-After` says when the
    next one may be asked for."""

    slug = "resend-too-soon"
    detail_text = "A code was sent moments ago; ask for another one later."


class ResendLimitReachedError(TooManyRequestsError):
    """Three new codes were sent for this registration already."""

    slug = "resend-limit-reached"
    detail_text = "No more codes can be sent for this registration."


class RegistrationLimitReachedError(ConflictError):
    """The user holds REGISTRATIONS_PER_USER_PER_EVENT active registrations for the event."""

    slug = "registration-limit-reached"
    detail_text = "You hold as many registrations for this event as one user may."


class WaitlistLimitReachedError(ConflictError):
    """The user has REGISTRATIONS_PER_USER_PER_EVENT entries waiting for the event."""

    slug = "waitlist-limit-reached"
    detail_text = "You have as many entries waiting for this event as one user may."


class SeatsAvailableError(ConflictError):
    """The event has a seat for a direct registration: register instead of waiting."""

    slug = "seats-available"
    detail_text = "This event has seats left: register instead."


class AlreadyWaitingError(ConflictError):
    """This email is already waiting for a seat at the event."""

    slug = "already-waiting"
    detail_text = "This email is already on the waiting list for this event."


class WaitlistEntryNotFoundError(NotFoundError):
    """No waiting-list entry of the current user has this id."""

    slug = "waitlist-entry-not-found"
    detail_text = "Waiting-list entry not found."
