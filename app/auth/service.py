"""Registration, login and the refresh-token lifecycle: rotation, reuse detection, logout."""

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from app.auth.errors import (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    UsernameTakenError,
)
from app.auth.models import RefreshToken, User
from app.auth.repository import RefreshTokenRepository, UserRepository
from app.auth.schemas import RegisterRequest, TokenPair
from app.core.config import Settings
from app.core.database import UnitOfWork, utcnow
from app.core.passwords import PasswordHasher
from app.core.security import InvalidTokenError, TokenClaims, TokenCodec, TokenType

logger = logging.getLogger(__name__)


class AuthService:
    def __init__(
        self,
        work: UnitOfWork,
        settings: Settings,
        codec: TokenCodec,
        hasher: PasswordHasher,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.hasher = hasher
        self.users = UserRepository(work.session)
        self.tokens = RefreshTokenRepository(work.session)

    async def register(self, data: RegisterRequest) -> tuple[User, TokenPair]:
        user = await self._add_user(data.username, data.email, data.password, is_staff=False)
        tokens = await self._issue(user, family_id=uuid.uuid4())
        logger.info("user registered", extra={"user_id": str(user.id)})
        return user, tokens

    async def create_staff_user(self, username: str, email: str | None, password: str) -> User:
        return await self._add_user(username, email, password, is_staff=True)

    async def grant_door(self, username: str) -> User | None:
        """Gives the user the `door` role: scanning tickets and reading attendee lists. None:
        no user has that username."""
        user = await self.users.get_by_username(username)
        if user is not None:
            user.is_door = True
        return user

    async def _add_user(
        self, username: str, email: str | None, password: str, *, is_staff: bool
    ) -> User:
        if await self.users.get_by_username(username) is not None:
            raise UsernameTakenError()
        user = User(
            username=username,
            email=email,
            password_hash=await self.hasher.hash(password),
            is_staff=is_staff,
        )
        try:
            await self.users.add(user)
        except IntegrityError:  # a concurrent registration took the name meanwhile
            raise UsernameTakenError() from None
        return user

    async def authenticate(self, username: str, password: str) -> User:
        """The same answer, in about the same time, whether or not the user exists."""
        user = await self.users.get_by_username(username)
        valid = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid or not user.is_active:
            raise InvalidCredentialsError()
        return user

    async def login(self, username: str, password: str) -> TokenPair:
        user = await self.authenticate(username, password)
        return await self._issue(user, family_id=uuid.uuid4())

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode_refresh(refresh_token)
        stored = await self.tokens.get(claims.jti)
        if stored is None or stored.revoked_at is not None:
            raise InvalidRefreshTokenError()
        now = utcnow()
        if not await self.tokens.mark_rotated(stored.jti, now):
            # Already used: either a stolen copy or the user's own copy is being replayed,
            # and we cannot tell which, so the whole family goes.
            await self.tokens.revoke_family(stored.family_id, now)
            logger.warning(
                "refresh token reuse detected; family revoked",
                extra={"user_id": str(stored.user_id)},
            )
            raise RefreshTokenReusedError()
        user = await self.users.get(stored.user_id)
        if user is None or not user.is_active:
            raise InvalidRefreshTokenError()
        return await self._issue(user, family_id=stored.family_id)

    async def logout(self, user: User, refresh_token: str) -> None:
        claims = self._decode_refresh(refresh_token)
        stored = await self.tokens.get(claims.jti)
        if stored is None or stored.user_id != user.id:
            raise InvalidRefreshTokenError()
        await self.tokens.revoke_family(stored.family_id, utcnow())

    async def get_active_user(self, user_id: uuid.UUID) -> User | None:
        user = await self.users.get(user_id)
        return user if user is not None and user.is_active else None

    def _decode_refresh(self, token: str) -> TokenClaims:
        try:
            return self.codec.decode(token, TokenType.REFRESH)
        except InvalidTokenError:
            raise InvalidRefreshTokenError() from None

    async def _issue(self, user: User, family_id: uuid.UUID) -> TokenPair:
        access, _ = self.codec.encode(
            str(user.id), TokenType.ACCESS, self.settings.access_token_ttl_seconds
        )
        refresh, claims = self.codec.encode(
            str(user.id), TokenType.REFRESH, self.settings.refresh_token_ttl_seconds
        )
        await self.tokens.add(
            RefreshToken(
                jti=claims.jti,
                user_id=user.id,
                family_id=family_id,
                expires_at=claims.expires_at,
            )
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self.settings.access_token_ttl_seconds,
        )


async def purge_expired_tokens(work: UnitOfWork) -> int:
    """Deletes refresh tokens past their expiry (revoked ones included): none can be used."""
    return await RefreshTokenRepository(work.session).purge_expired(utcnow())
