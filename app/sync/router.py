from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import AUTHENTICATION_ERRORS, StaffUser
from app.auth.errors import StaffOnlyError
from app.core.errors import RequestInvalidError, problem_responses
from app.dependencies import BackgroundDep, SyncDep, UnitOfWorkDep
from app.sync.errors import SyncInProgressError
from app.sync.schemas import SyncRunRead, SyncTriggered
from app.sync.service import SyncMode, recent_runs

router = APIRouter(prefix="/api/sync", tags=["sync"])
STAFF_ERRORS = (*AUTHENTICATION_ERRORS, StaffOnlyError)


@router.post(
    "/trigger",
    operation_id="sync_trigger",
    summary="Start a sync run now",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(*STAFF_ERRORS, SyncInProgressError),
)
async def trigger(
    _staff: StaffUser, work: UnitOfWorkDep, sync: SyncDep, background: BackgroundDep
) -> SyncTriggered:
    """Starts an incremental sync run now; it goes on in the background."""
    active = await sync.start(work, SyncMode.INCREMENTAL)
    if active is None:
        raise SyncInProgressError()
    # Executed once the run's lease and record are committed, so that it finds them.
    work.after_commit(lambda: background.spawn(f"sync-run-{active.id}", sync.execute(active)))
    return SyncTriggered(run_id=active.id)


@router.get(
    "/runs",
    operation_id="sync_list_runs",
    summary="List recent sync runs",
    responses=problem_responses(*STAFF_ERRORS, RequestInvalidError),
)
async def runs(
    _staff: StaffUser,
    work: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many runs, newest first")] = 20,
) -> list[SyncRunRead]:
    """Recent sync runs, newest first."""
    return [SyncRunRead.model_validate(run) for run in await recent_runs(work, limit)]
