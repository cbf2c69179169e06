"""Prometheus metrics, behind one module: a registry per app, the HTTP middleware, and the
gauges that /metrics refreshes from the database at scrape time."""

import math
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PROMETHEUS_CONTENT_TYPE", "Counter", "Metrics", "MetricsMiddleware"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Outbox messages waiting to be delivered.", registry=self.registry
        )
        self.outbox_dead = Gauge(
            "outbox_dead", "Outbox messages that gave up (dead).", registry=self.registry
        )
        self.outbox_deliveries = Counter(
            "outbox_deliveries_total",
            "Outbox send attempts by this process, by result (sent, retry, dead).",
            ["result"],
            registry=self.registry,
        )
        self.stream_messages = Counter(
            "stream_messages_total",
            "Provider stream messages by result (applied, skipped as not newer, parked).",
            ["result"],
            registry=self.registry,
        )
        self.stream_lag = Gauge(
            "stream_lag_messages",
            "Stream messages not yet delivered to this consumer group (NaN where unknown).",
            registry=self.registry,
        )
        self.stream_lag.set(math.nan)
        self.holds_expired = Counter(
            "registration_holds_expired_total",
            "Pending registrations whose hold lapsed unconfirmed (recorded by this process).",
            registry=self.registry,
        )
        self.offers_made = Counter(
            "waitlist_offers_total",
            "Freed seats offered to a waiting-list entry by this process.",
            registry=self.registry,
        )
        self.offers_expired = Counter(
            "waitlist_offers_expired_total",
            "Waiting-list offers whose hold lapsed unconfirmed (recorded by this process).",
            registry=self.registry,
        )
        self.checkin_scans = Counter(
            "checkin_scans_total",
            "Tickets scanned at the door through this process, by result (ok, "
            "already-checked-in, invalid-ticket, revoked-ticket, wrong-event, event-cancelled, "
            "nonce-reused); "
            "a scan sent again with its nonce is not counted again.",
            ["result"],
            registry=self.registry,
        )
        self.reminders_sent = Counter(
            "reminders_total",
            "Reminder notices queued by this process.",
            registry=self.registry,
        )
        self.sync_last_success = Gauge(
            "sync_last_run_success",
            "1 if the last finished sync run succeeded, 0 if it failed.",
            registry=self.registry,
        )
        self.sync_last_age = Gauge(
            "sync_last_run_age_seconds",
            "Seconds since the last finished sync run started.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Counts one request and observes its latency. The labelled children are kept per
        label set (a few dozen routes and statuses): `labels()` validates and locks on every
        call, a tenth of a cached page's cost."""
        children = self._request_children.get((method, route, status))
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[(method, route, status)] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def observe_last_sync(self, succeeded: bool | None, started_at: datetime | None) -> None:
        """The last finished sync run; NaN for both while none has finished."""
        if succeeded is None or started_at is None:
            self.sync_last_success.set(math.nan)
            self.sync_last_age.set(math.nan)
            return
        self.sync_last_success.set(1 if succeeded else 0)
        self.sync_last_age.set((datetime.now(UTC) - started_at).total_seconds())

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests by route template (never the raw path, which would let a scanner
    create unbounded label values) and observes their latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], template, status, elapsed)
