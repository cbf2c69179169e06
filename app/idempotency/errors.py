"""Idempotency-Key errors."""

from app.core.errors import UnprocessableError


class IdempotencyKeyReusedError(UnprocessableError):
    """This Idempotency-Key already answered a different request (another body or target)."""

    slug = "idempotency-key-reused"
    detail_text = "This Idempotency-Key was already used with a different request."
