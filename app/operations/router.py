import asyncio
import html
import logging
from http import HTTPStatus

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from app.core.errors import AppError, DatabaseUnavailableError, problem_responses
from app.core.metrics import PROMETHEUS_CONTENT_TYPE
from app.core.migrations import is_at_head
from app.dependencies import ContainerDep, DatabaseDep, DrainDep, UnitOfWorkDep
from app.operations.errors import MigrationsBehindError, ReplicaDrainingError
from app.outbox.service import OutboxService
from app.sync.models import RunStatus
from app.sync.service import last_finished_run

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

READINESS_TIMEOUT_SECONDS = 3.0


class HealthStatus(BaseModel):
    status: str = Field(description="`ok` from liveness, `ready` from readiness")


@router.get("/health/live", operation_id="operations_live", summary="Liveness: the process runs")
async def live() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/health/ready",
    operation_id="operations_ready",
    summary="Readiness: the database answers, migrations at head",
    response_model=HealthStatus,
    responses=problem_responses(
        DatabaseUnavailableError, ReplicaDrainingError, MigrationsBehindError
    ),
)
async def ready(database: DatabaseDep, drain: DrainDep) -> HealthStatus:
    """Whether a load balancer should send this replica traffic: not once it is draining
    for shutdown, nor while its database does not answer or is not migrated."""
    if drain.started:
        raise ReplicaDrainingError()
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), database.reading() as connection:
            at_head = await is_at_head(connection)
    except Exception as error:
        logger.warning("readiness: database unreachable (%s)", type(error).__name__)
        raise DatabaseUnavailableError("The database does not answer.") from error
    if not at_head:
        raise MigrationsBehindError()
    return HealthStatus(status="ready")


@router.get(
    "/metrics",
    operation_id="operations_metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_CONTENT_TYPE: {}}, "description": "Prometheus text"}},
)
async def metrics(container: ContainerDep, work: UnitOfWorkDep) -> Response:
    registry = container.metrics
    last_run = await last_finished_run(work)
    await OutboxService(work).refresh_gauges(registry)
    registry.observe_last_sync(
        last_run.status == RunStatus.SUCCESS if last_run else None,
        last_run.started_at if last_run else None,
    )
    if container.stream_consumer is not None:
        await container.stream_consumer.observe_lag(registry)
    return Response(registry.render(), media_type=PROMETHEUS_CONTENT_TYPE)


@router.get("/problems/{slug}", include_in_schema=False, response_class=HTMLResponse)
async def problem_type(slug: str) -> HTMLResponse:
    """What a problem `type` means: RFC 9457 asks that its URI lead to documentation."""
    error = AppError.registry.get(slug)
    if error is None:
        return HTMLResponse("<h1>Unknown problem type</h1>", status_code=HTTPStatus.NOT_FOUND)
    page = (
        f"<!doctype html><title>{html.escape(slug)}</title>"
        f"<h1>{html.escape(error.type_uri())}</h1>"
        f"<p>HTTP {int(error.status)} {html.escape(error.title())}</p>"
        f"<p>{html.escape(error.describe())}</p>"
    )
    return HTMLResponse(page)
