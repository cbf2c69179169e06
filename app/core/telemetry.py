"""OpenTelemetry's SDK for one process (SPEC §7): on only when OTEL_EXPORTER_OTLP_ENDPOINT is
set; the other standard variables (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_BSP_*, …)
apply as the SDK reads them. Imported only then: the SDK and the instrumentations are 1.8 MiB
and a tenth of a second of every process's start.

Each process has a tracer provider of its own rather than the global one, so that a test can
run a traced app beside untraced ones; the instrumentations are handed it. Traced: every
request (FastAPI), every statement (the async engine's sync engine, instrumented once:
SQLAlchemy sees every statement but a registration's last write, which goes past it with its
COMMIT (app.core.last_write); instrumenting asyncpg too would trace each other twice), every
outgoing HTTP call (httpx: the notification service, the provider).
"""

import httpx
from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE_NAME = "events-face"
TRACES_PATH = "/v1/traces"  # appended to OTEL_EXPORTER_OTLP_ENDPOINT, as the SDK does
DB_SYSTEM = "db.system"  # what SQLAlchemy's instrumentation marks a statement's span with


class WithoutLoneStatements(SpanProcessor):
    """Hands `processor` every span but the statements that are traces of their own: the
    background loops' polls (the relay's claim, the sweeps), a trace a second per replica
    that says nothing."""

    def __init__(self, processor: SpanProcessor) -> None:
        self._processor = processor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if span.parent is not None or DB_SYSTEM not in (span.attributes or {}):
            self._processor.on_end(span)

    def shutdown(self) -> None:
        self._processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._processor.force_flush(timeout_millis)


class Tracing:
    """One process's traces: its provider, and the instrumentations handed it."""

    def __init__(self, exporter: SpanExporter) -> None:
        resource = Resource.create({"service.name": SERVICE_NAME})  # OTEL_SERVICE_NAME wins
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(WithoutLoneStatements(BatchSpanProcessor(exporter)))
        self.tracer: Tracer = self.provider.get_tracer("app")

    @classmethod
    def to_endpoint(cls, endpoint: str) -> "Tracing":
        return cls(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + TRACES_PATH))

    def instrument_app(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls="health/live,metrics",
            # A span for each ASGI message sent or received says nothing the request's does not.
            exclude_spans=["receive", "send"],
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        # Its declared range ends before SQLAlchemy 2.1, whose engine events it works with
        # unchanged (tests/core/test_tracing.py sees the statements' spans).
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True
        )

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def close(self) -> None:
        """Sends what is still buffered, and undoes the engine's instrumentation (SQLAlchemy's
        instrumentor is one per process; the app's and the clients' go with them)."""
        SQLAlchemyInstrumentor().uninstrument()
        self.provider.shutdown()
