"""The relay's circuit breaker, with batches driven by the test. A module of its own: the
relay_app of test_relay.py, whose relay would take these messages, is not running here."""

import asyncio

from app.core.resilience import CircuitBreaker, CircuitState
from app.dependencies import container_of
from app.outbox.relay import OutboxRelay
from fakes.notifications import Behaviour
from tests.conftest import client_of, database_of, running_app
from tests.support.notifications import new_ids, relay_settings, seed_messages, status_of


async def test_an_open_circuit_stops_the_calls_without_spending_attempts_until_a_probe_succeeds(
    database_url, notifications
):
    notifications.reset()
    notifications.behaviour = Behaviour(fail_next=3, fail_status=503)
    # One send at a time, and no relay loop of the app's own: the test drives the batches.
    settings = relay_settings(
        database_url, notifications.url, outbox_relay_enabled=False, outbox_concurrency=1
    )
    async with running_app(settings) as application, client_of(application):
        ids = new_ids(6)
        await seed_messages(database_of(application), ids)
        breaker = CircuitBreaker("notifications", failure_threshold=3, reset_timeout=0.5)
        relay = OutboxRelay(
            database_of(application),
            container_of(application).notifications_http,
            settings,
            container_of(application).metrics,
            asyncio.Event(),
            container_of(application).tracer,
            breaker,
        )

        await relay.relay_batch()

        assert len(notifications.received) == 3  # open after the third failure
        outcomes = [await status_of(application, message_id) for message_id in ids]
        assert sorted(outcomes) == [("pending", 0)] * 3 + [("pending", 1)] * 3
        assert relay.breaker_pause() > 0

        await asyncio.sleep(0.5)
        assert await relay.relay_batch() == 1  # half open: a single probe, which succeeds
        assert breaker.state is CircuitState.CLOSED
        await relay.relay_batch()

        outcomes = [await status_of(application, message_id) for message_id in ids]
        assert sorted(outcomes) == [("sent", 1)] * 3 + [("sent", 2)] * 3
        assert all(notifications.created(message_id) == 1 for message_id in ids)
