import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import ValidationError

from app.auth.errors import (
    DoorOnlyError,
    InvalidAccessTokenError,
    NotAuthenticatedError,
    StaffOnlyError,
)
from app.auth.models import User
from app.auth.schemas import LoginRequest
from app.auth.service import AuthService
from app.container import Container
from app.core.database import UnitOfWork
from app.core.errors import request_invalid
from app.core.ratelimit import RateLimiter
from app.core.security import InvalidTokenError, TokenType
from app.dependencies import (
    ContainerDep,
    RateLimiterDep,
    UnitOfWorkDep,
    erased_users_of,
    token_codec_of,
)


class AccessTokenBearer(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme (documented as such, for Swagger UI's Authorize button) that
    also verifies the token: one dependency where a scheme and a verifier were two, on every
    authenticated request (each dependency FastAPI resolves costs more than this one's work)."""

    # The user's id where the base returns the token: FastAPI calls it only as a dependency.
    async def __call__(self, request: Request) -> uuid.UUID:  # type: ignore[override]
        """The user named by a valid access token; no database call (tokens live 15 minutes).
        An erased account's tokens are refused from the moment of its erasure (ErasedUsers:
        a set in memory)."""
        token = await super().__call__(request)
        if not token:
            raise NotAuthenticatedError()
        try:
            claims = token_codec_of(request).decode(token, TokenType.ACCESS)
            user_id = uuid.UUID(claims.subject)
        except (InvalidTokenError, ValueError):
            raise InvalidAccessTokenError() from None
        if user_id in erased_users_of(request):
            raise InvalidAccessTokenError()
        return user_id


Bearer = TypeVar("Bearer", bound=AccessTokenBearer)


def api_bearer(kind: type[Bearer]) -> Bearer:
    """A bearer of the API's one scheme in the OpenAPI document, whatever its class."""
    return kind(tokenUrl="/api/auth/token", scheme_name="OAuth2PasswordBearer", auto_error=False)


current_user_id = api_bearer(AccessTokenBearer)


def auth_service(container: Container, work: UnitOfWork) -> AuthService:
    return AuthService(work, container.settings, container.token_codec, container.password_hasher)


async def get_auth_service(container: ContainerDep, work: UnitOfWorkDep) -> AuthService:
    return auth_service(container, work)


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]
# What a route that needs an access token may answer besides its own errors.
AUTHENTICATION_ERRORS = (NotAuthenticatedError, InvalidAccessTokenError)
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_current_user(user_id: CurrentUserId, service: AuthServiceDep) -> User:
    user = await service.get_active_user(user_id)
    if user is None:
        raise InvalidAccessTokenError()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: CurrentUser) -> User:
    if not user.is_staff:
        raise StaffOnlyError()
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]


async def get_door_user(user: CurrentUser) -> User:
    """Door staff (the `door` role) or a staff user."""
    if not (user.is_door or user.is_staff):
        raise DoorOnlyError()
    return user


DoorUser = Annotated[User, Depends(get_door_user)]


async def get_password_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> LoginRequest:
    """The OAuth2 password form's username and password, checked as the login body's are."""
    try:
        return LoginRequest(username=form.username, password=form.password)
    except ValidationError as error:
        raise request_invalid(error.errors(include_url=False), "body") from None


PasswordForm = Annotated[LoginRequest, Depends(get_password_form)]


class AuthRateLimit:
    """RATE_LIMIT_AUTH per client IP and per username, for one auth endpoint."""

    def __init__(self, limiter: RateLimiter, scope: str, client: str) -> None:
        self._limiter = limiter
        self._scope = scope
        self._client = client

    async def __call__(self, username: str | None = None) -> None:
        identities = [("ip", self._client)]
        if username:
            identities.append(("user", username.casefold()))
        await self._limiter.hit(self._scope, identities)


def _auth_rate_limit(scope: str) -> Callable[..., Awaitable[AuthRateLimit]]:
    async def dependency(request: Request, limiter: RateLimiterDep) -> AuthRateLimit:
        # The client's address as the trusted proxies forwarded it (TrustedProxyHeaders).
        client = request.client.host if request.client else "unknown"
        return AuthRateLimit(limiter, scope, client)

    return dependency


LoginRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("login"))]
RegisterRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("register"))]
RefreshRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("refresh"))]
# Erasing the account takes its password: guessing it there is throttled as at login.
EraseRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("erase"))]
