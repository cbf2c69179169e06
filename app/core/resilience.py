"""Backoff with jitter, Retry-After parsing and a circuit breaker, shared by every outbound
client (events-provider, notification service)."""

import logging
import random
import time
from email.utils import parsedate_to_datetime
from enum import StrEnum

from app.core.database import utcnow

logger = logging.getLogger(__name__)


def backoff_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].

    `attempt` counts from 0. Full jitter spreads the retries of many clients that failed
    together, so that they do not all come back at the same instant.
    """
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


def retry_after_seconds(header: str | None, *, cap: float = 3600.0) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not header:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(header) - utcnow()).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """Raised instead of calling a service that the breaker considers down."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"circuit {name} is open; next probe in {retry_in:.1f}s")
        self.retry_in = retry_in


class CircuitBreaker:
    """Stops calling a service after `failure_threshold` consecutive failures, then lets one
    probe through after `reset_timeout` seconds: its success closes the circuit, its
    failure opens it again. In-process: each replica judges the service for itself."""

    def __init__(self, name: str, *, failure_threshold: int = 5, reset_timeout: float = 30.0):
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if time.monotonic() - self._opened_at >= self.reset_timeout:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def before_call(self) -> None:
        """Raises CircuitOpenError when the call must not go out now."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        assert self._opened_at is not None
        retry_in = max(0.0, self.reset_timeout - (time.monotonic() - self._opened_at))
        raise CircuitOpenError(self.name, retry_in)

    def record_success(self) -> None:
        if self._opened_at is not None:
            logger.info("circuit %s closed: the service answers again", self.name)
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            if self._opened_at is None or self._probing:
                logger.warning("circuit %s opened after %d failures", self.name, self._failures)
            self._opened_at = time.monotonic()
            self._probing = False
