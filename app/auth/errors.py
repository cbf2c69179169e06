"""Authentication errors, each with its own problem type."""

from app.core.database import RecordedFailure
from app.core.errors import ConflictError, ForbiddenError, UnauthorizedError

BAD_REFRESH_TOKEN = "Invalid or expired refresh token"  # noqa: S105 - a message, not a secret


class NotAuthenticatedError(UnauthorizedError):
    """No access token was sent."""

    slug = "not-authenticated"
    detail_text = "Not authenticated"


class InvalidAccessTokenError(UnauthorizedError):
    """The access token is malformed, forged, expired or not an access token."""

    slug = "invalid-token"
    detail_text = "Could not validate credentials"


class InvalidCredentialsError(UnauthorizedError):
    """The username and password do not match an active user (the same answer whether or not
    the user exists)."""

    slug = "invalid-credentials"
    detail_text = "Invalid username or password"


class InvalidRefreshTokenError(UnauthorizedError):
    """The refresh token is malformed, expired, revoked, or not this user's."""

    slug = "invalid-refresh-token"
    detail_text = BAD_REFRESH_TOKEN


class RefreshTokenReusedError(RecordedFailure, UnauthorizedError):
    """A refresh token that was already rotated came back: its whole family is revoked, the
    thief's copies and the user's alike."""

    slug = "refresh-token-reused"
    detail_text = BAD_REFRESH_TOKEN


class StaffOnlyError(ForbiddenError):
    """The operation is for staff users only."""

    slug = "staff-only"
    detail_text = "Staff only."


class UsernameTakenError(ConflictError):
    """Another user has this username."""

    slug = "username-taken"
    detail_text = "A user with that username already exists."


class DoorOnlyError(ForbiddenError):
    """Only door staff (the `door` role) and staff users scan tickets and read attendee lists."""

    slug = "door-only"
    detail_text = "Door staff only."
