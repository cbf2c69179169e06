import uuid
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from app.auth.models import User
from app.auth.repository import UserRepository
from app.auth.service import AuthService
from app.core.dependencies import PasswordHasherDep, SessionDep, SettingsDep, TokenCodecDep
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.security import InvalidTokenError, TokenType

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_auth_service(
    session: SessionDep, settings: SettingsDep, codec: TokenCodecDep, hasher: PasswordHasherDep
) -> AuthService:
    return AuthService(session, settings, codec, hasher)


def get_current_user_id(
    codec: TokenCodecDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> uuid.UUID:
    """The user named by a valid access token; no database call (tokens live 15 minutes)."""
    if not token:
        raise UnauthorizedError("Not authenticated")
    try:
        claims = codec.decode(token, TokenType.ACCESS)
        return uuid.UUID(claims.subject)
    except (InvalidTokenError, ValueError):
        raise UnauthorizedError() from None


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(user_id: CurrentUserId, session: SessionDep) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None or not user.is_active:
        raise UnauthorizedError()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: CurrentUser) -> User:
    if not user.is_staff:
        raise ForbiddenError("Staff only.")
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
