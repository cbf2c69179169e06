import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth.models import User
from app.auth.repository import UserRepository
from app.auth.service import AuthService
from app.core.dependencies import PasswordHasherDep, SessionDep, SettingsDep, TokenCodecDep
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.ratelimit import RateLimiter, client_ip, parse_trusted_proxies
from app.core.security import InvalidTokenError, TokenCodec, TokenType

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_auth_service(
    session: SessionDep, settings: SettingsDep, codec: TokenCodecDep, hasher: PasswordHasherDep
) -> AuthService:
    return AuthService(session, settings, codec, hasher)


async def get_current_user_id(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> uuid.UUID:
    """The user named by a valid access token; no database call (tokens live 15 minutes)."""
    if not token:
        raise UnauthorizedError("Not authenticated")
    codec: TokenCodec = request.app.state.token_codec  # every authenticated request: no Depends
    try:
        claims = codec.decode(token, TokenType.ACCESS)
        return uuid.UUID(claims.subject)
    except (InvalidTokenError, ValueError):
        raise UnauthorizedError() from None


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(user_id: CurrentUserId, session: SessionDep) -> User:
    user = await UserRepository(session).get(user_id)
    # End the read transaction now: on SQLite every transaction holds the write lock, and
    # the route may go on to work in another session (a sync run, say).
    await session.commit()
    if user is None or not user.is_active:
        raise UnauthorizedError()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: CurrentUser) -> User:
    if not user.is_staff:
        raise ForbiddenError("Staff only.")
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]


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


def _auth_rate_limit(scope: str) -> Callable[[Request, SettingsDep], Awaitable[AuthRateLimit]]:
    async def dependency(request: Request, settings: SettingsDep) -> AuthRateLimit:
        client = client_ip(request, parse_trusted_proxies(settings.trusted_proxies))
        return AuthRateLimit(request.app.state.rate_limiter, scope, client)

    return dependency


LoginRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("login"))]
RegisterRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("register"))]
RefreshRateLimit = Annotated[AuthRateLimit, Depends(_auth_rate_limit("refresh"))]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
