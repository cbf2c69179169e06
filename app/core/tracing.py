"""Trace context for the code that is traced (SPEC §7), through OpenTelemetry's API alone:
the span running now as a W3C `traceparent`, and spans that continue one. With tracing off
(the default) the tracer is a no-op one and no span is ever current, so these cost a context
lookup. The SDK, the exporter and the instrumentations are in app/core/telemetry.py, imported
only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

A trace crosses the outbox as the `traceparent` stored with each message: the relay's send
continues it, and httpx's instrumentation passes it on to the notification service.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.core.config import Settings

if TYPE_CHECKING:
    from app.core.telemetry import Tracing

NO_TRACER: Tracer = trace.NoOpTracer()
_PROPAGATOR = TraceContextTextMapPropagator()


def tracing_from(settings: Settings) -> "Tracing | None":
    """Traces sent to OTEL_EXPORTER_OTLP_ENDPOINT, or None (no tracing) when it is not set."""
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    from app.core.telemetry import Tracing

    return Tracing.to_endpoint(str(settings.otel_exporter_otlp_endpoint))


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the span running now, or None outside any (tracing off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def _context_of(traceparent: str | None) -> Context:
    """The remote parent a stored or received `traceparent` names; without one, an empty
    context: a trace of its own, whatever runs around it."""
    return _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else Context()


@contextmanager
def span(
    tracer: Tracer,
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span]:
    """A span of `tracer` (a no-op one when tracing is off) that continues `parent` — a
    stored or received `traceparent` — or, without one, starts a trace of its own."""
    with tracer.start_as_current_span(
        name, context=_context_of(parent), kind=kind, attributes=attributes
    ) as current:
        yield current
