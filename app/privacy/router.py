"""A visitor's own data (SPEC §4.7), under the account's own path: `/api/auth/me/…`."""

from fastapi import APIRouter

from app.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUser, EraseRateLimit
from app.core.errors import RateLimitedError, RequestInvalidError, problem_responses
from app.privacy.dependencies import OwnDataServiceDep
from app.privacy.errors import WrongPasswordError
from app.privacy.schemas import EraseRequest, ErasureRead, OwnDataExport

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.get(
    "/me/export",
    operation_id="auth_export",
    summary="Everything stored about the current user",
    responses=problem_responses(*AUTHENTICATION_ERRORS),
)
async def export(user: CurrentUser, service: OwnDataServiceDep) -> OwnDataExport:
    """The account, every registration and waiting-list entry, every notice about them (its
    text with any confirmation code masked), every scan of their tickets at the door, and the
    sessions (refresh tokens) not yet expired."""
    return OwnDataExport.of(await service.export(user))


@router.delete(
    "/me",
    operation_id="auth_erase",
    summary="Erase the current user's account",
    responses=problem_responses(
        *AUTHENTICATION_ERRORS, WrongPasswordError, RequestInvalidError, RateLimitedError
    ),
)
async def erase(
    data: EraseRequest, user: CurrentUser, service: OwnDataServiceDep, rate_limit: EraseRateLimit
) -> ErasureRead:
    """Erases the account, given its password, all at once: active registrations are
    cancelled (their seats go to the waiting list, their tickets are refused at the door) and
    waiting entries leave the list; names and addresses give way to placeholders; notices not
    yet delivered are never sent, and the texts of delivered ones are deleted; every token of
    the account is refused from then on, on every replica. The username is free again. A
    wrong password is 401 `/problems/wrong-password`, and nothing changes."""
    await rate_limit(user.username)
    return ErasureRead.model_validate(await service.erase_own(user, data.password))
