import asyncio
import logging
from http import HTTPStatus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.core.errors import problem_response, problem_responses
from app.core.metrics import PROMETHEUS_CONTENT_TYPE, Metrics
from app.core.migrations import is_at_head
from app.outbox.service import OutboxService

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

READINESS_TIMEOUT_SECONDS = 3.0


class HealthStatus(BaseModel):
    status: str


@router.get("/health/live")
async def live() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get("/health/ready", response_model=HealthStatus, responses=problem_responses(503))
async def ready(request: Request) -> HealthStatus | JSONResponse:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with request.app.state.engine.connect() as connection:
                at_head = await is_at_head(connection)
    except Exception as error:
        logger.warning("readiness: database unreachable (%s)", type(error).__name__)
        return problem_response(HTTPStatus.SERVICE_UNAVAILABLE, "The database does not answer.")
    if not at_head:
        return problem_response(
            HTTPStatus.SERVICE_UNAVAILABLE, "Database migrations are not at head."
        )
    return HealthStatus(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_CONTENT_TYPE: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    last_run = await request.app.state.sync_service.last_finished_run()
    registry.observe_last_sync(
        last_run.status == "success" if last_run else None,
        last_run.started_at if last_run else None,
    )
    async with request.app.state.session_factory() as session:
        await OutboxService(session).refresh_gauges(registry)
    if request.app.state.stream_consumer is not None:
        await request.app.state.stream_consumer.observe_lag(registry)
    return Response(registry.render(), media_type=PROMETHEUS_CONTENT_TYPE)
