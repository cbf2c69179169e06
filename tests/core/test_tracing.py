"""Traces (SPEC §7): a request's trace runs through its statements, the outbox row, the relay's
send and the call to the notification service; sync runs are traces of their own; log lines
name the trace; one export really reaches an OTLP/HTTP receiver. Off, nothing is traced."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.database import Database
from app.core.logging import JsonFormatter
from app.core.telemetry import Tracing
from app.dependencies import container_of
from app.main import create_app
from app.outbox.models import OutboxMessage, OutboxStatus
from app.sync.service import SyncMode
from fakes.notifications import FakeNotifications
from tests.conftest import database_of, http_client, make_settings, running_app
from tests.support.auth import access_token, bearer
from tests.support.database import empty_database
from tests.support.events import create_event
from tests.support.notifications import eventually, notifications, relay_settings
from tests.support.servers import served_provider, serving

__all__ = ["notifications"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
VISITOR = {"full_name": "Анна Трейсова", "email": "anna@example.com"}


@asynccontextmanager
async def traced_app(app_settings) -> AsyncIterator[tuple[FastAPI, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    app = create_app(app_settings, tracing=Tracing(exporter))
    async with LifespanManager(app):
        yield app, exporter


def of_the_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]


def descends_from(ancestor: ReadableSpan, span: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        if (parent := by_id.get(span.parent.span_id)) is None:
            return False
        span = parent
    return False


def hex_span_id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


async def eventually_sent(database: Database) -> OutboxMessage:
    async def sent() -> OutboxMessage | None:
        async with database.transaction() as work:
            message = (await work.session.scalars(select(OutboxMessage))).one()
        return message if message.status == OutboxStatus.SENT else None

    await eventually(sent)
    return await sent()


async def test_a_request_trace_runs_through_the_outbox_to_the_notification_call(
    database_url, notifications: FakeNotifications
):
    await empty_database(database_url)
    notifications.reset()
    async with (
        traced_app(relay_settings(database_url, notifications.url)) as (app, exporter),
        http_client(app) as http,
    ):
        headers = bearer(await access_token(http))
        event = await create_event(database_of(app))
        registered = await http.post(
            f"/api/events/{event.id}/register",
            json=VISITOR,
            headers={**headers, "traceparent": TRACEPARENT},
        )
        stored = await eventually_sent(database_of(app))
    # The lifespan's end has flushed every span to the exporter.

    spans = of_the_trace(exporter, TRACE_ID)
    by_kind = {kind: [s for s in spans if s.kind is kind] for kind in SpanKind}
    [server] = [
        s
        for s in by_kind[SpanKind.SERVER]
        if s.parent and s.parent.span_id == int(CALLER_SPAN_ID, 16)
    ]
    [send] = [s for s in spans if s.name == "outbox send"]
    [call] = [
        s
        for s in by_kind[SpanKind.CLIENT]
        if s.attributes.get("http.request.method", s.attributes.get("http.method")) == "POST"
    ]
    statements = [
        s
        for s in by_kind[SpanKind.CLIENT]
        if "db.system" in s.attributes or "db.system.name" in s.attributes
    ]
    delivered = notifications.received[0]

    assert registered.status_code == 201
    assert server.name.startswith("POST /api/events/{event_id}/register")
    assert any(descends_from(server, statement, spans) for statement in statements)
    assert stored.traceparent.split("-")[1] == TRACE_ID
    assert call.parent.span_id == send.context.span_id
    assert delivered.traceparent.split("-")[1:3] == [TRACE_ID, hex_span_id(call)]


async def test_a_sync_run_is_a_trace_of_its_own(database_url):
    await empty_database(database_url)
    async with (
        served_provider() as provider,
        traced_app(make_settings(database_url, events_provider_url=provider.url)) as (
            app,
            exporter,
        ),
    ):
        await container_of(app).sync.run(SyncMode.ALL)
    spans = exporter.get_finished_spans()
    [run] = [s for s in spans if s.name == "sync run"]
    within = [s for s in spans if s.parent and s.parent.span_id == run.context.span_id]

    assert run.parent is None
    assert {SpanKind.CLIENT} == {s.kind for s in within}  # its call to the provider, statements
    assert any(s.attributes.get("http.url", "").startswith(provider.url) for s in within)


async def test_log_lines_name_the_trace_and_the_span(database_url, caplog):
    await empty_database(database_url)
    async with (
        traced_app(make_settings(database_url)) as (app, _exporter),
        http_client(app) as http,
    ):
        with caplog.at_level(logging.INFO, logger="app.access"):
            await http.get("/health/ready", headers={"traceparent": TRACEPARENT})
    [line] = [r for r in caplog.records if r.name == "app.access"]

    assert line.trace_id == TRACE_ID
    assert '"trace_id":"' + TRACE_ID in JsonFormatter().format(line)


class OtlpReceiver:
    """An OTLP/HTTP collector's trace endpoint: what it received, decoded."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        self.exports.append(export)
        return Response(status_code=200, media_type="application/x-protobuf")

    def span_names(self) -> set[str]:
        return {
            span.name
            for export in self.exports
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        }

    def service_names(self) -> set[str]:
        return {
            attribute.value.string_value
            for export in self.exports
            for resource in export.resource_spans
            for attribute in resource.resource.attributes
            if attribute.key == "service.name"
        }


async def test_traces_are_exported_over_otlp_where_the_endpoint_says(database_url):
    receiver = OtlpReceiver()
    await empty_database(database_url)
    async with serving(receiver.app) as endpoint:
        app = create_app(make_settings(database_url, otel_exporter_otlp_endpoint=endpoint))
        async with LifespanManager(app), http_client(app) as http:
            ready = await http.get("/health/ready")
        # The lifespan's end sent what the batch processor held.

    assert ready.status_code == 200
    assert "GET /health/ready" in receiver.span_names()
    assert receiver.service_names() == {"events-face"}


async def test_without_an_endpoint_nothing_is_traced_nor_stored(database_url):
    await empty_database(database_url)
    async with running_app(make_settings(database_url)) as app, http_client(app) as http:
        headers = {**bearer(await access_token(http)), "traceparent": TRACEPARENT}
        event = await create_event(database_of(app))
        registered = await http.post(
            f"/api/events/{event.id}/register", json=VISITOR, headers=headers
        )
        async with database_of(app).transaction() as work:
            stored = (await work.session.scalars(select(OutboxMessage))).one()

    assert registered.status_code == 201
    assert stored.traceparent is None
