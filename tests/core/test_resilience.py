from datetime import timedelta
from email.utils import format_datetime

import pytest

from app.core.database import utcnow
from app.core.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    backoff_delay,
    retry_after_seconds,
)


@pytest.mark.parametrize("attempt", [0, 1, 5, 10, 100])
def test_backoff_stays_within_its_exponential_ceiling(attempt):
    delays = [backoff_delay(attempt, base=0.5, cap=60) for _ in range(200)]

    assert all(0 <= delay <= min(60, 0.5 * 2**attempt) for delay in delays)
    assert len(set(delays)) > 1


def test_retry_after_reads_seconds_and_http_dates():
    in_two_minutes = format_datetime(utcnow() + timedelta(minutes=2), usegmt=True)

    assert retry_after_seconds("7") == 7
    assert 100 < (retry_after_seconds(in_two_minutes) or 0) <= 120
    assert retry_after_seconds("yesterday-ish") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("-5") == 0
    assert retry_after_seconds("999999") == 3600


def test_breaker_opens_after_the_threshold_and_probes_after_the_pause():
    breaker = CircuitBreaker("svc", failure_threshold=2, reset_timeout=0.0)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()

    assert breaker.state is CircuitState.HALF_OPEN  # reset_timeout 0: probe at once
    breaker.before_call()  # the probe goes out
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_an_open_breaker_refuses_calls_and_a_failed_probe_reopens_it():
    breaker = CircuitBreaker("svc", failure_threshold=1, reset_timeout=3600)
    breaker.record_failure()

    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    assert breaker.state is CircuitState.OPEN


def test_only_one_probe_at_a_time_when_half_open():
    breaker = CircuitBreaker("svc", failure_threshold=1, reset_timeout=0.0)
    breaker.record_failure()
    breaker.before_call()

    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.HALF_OPEN
