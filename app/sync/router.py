from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.dependencies import StaffUser
from app.core.background import BackgroundLoops
from app.core.errors import ConflictError, problem_responses
from app.sync.schemas import SyncRunRead, SyncTriggered
from app.sync.service import SyncMode, SyncService

router = APIRouter(prefix="/api/sync", tags=["sync"])


def get_sync_service(request: Request) -> SyncService:
    return request.app.state.sync_service  # type: ignore[no-any-return]


def get_background(request: Request) -> BackgroundLoops:
    return request.app.state.background  # type: ignore[no-any-return]


SyncServiceDep = Annotated[SyncService, Depends(get_sync_service)]
BackgroundDep = Annotated[BackgroundLoops, Depends(get_background)]


@router.post(
    "/trigger", status_code=status.HTTP_202_ACCEPTED, responses=problem_responses(401, 403, 409)
)
async def trigger(
    _staff: StaffUser, service: SyncServiceDep, background: BackgroundDep
) -> SyncTriggered:
    """Starts an incremental sync run now; it goes on in the background."""
    active = await service.start(SyncMode.INCREMENTAL)
    if active is None:
        raise ConflictError("A sync run is already in progress.")
    background.spawn(f"sync-run-{active.id}", service.execute(active))
    return SyncTriggered(run_id=active.id)


@router.get("/runs", responses=problem_responses(401, 403, 422))
async def runs(
    _staff: StaffUser,
    service: SyncServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SyncRunRead]:
    """Recent sync runs, newest first."""
    return [SyncRunRead.model_validate(run) for run in await service.recent_runs(limit)]
