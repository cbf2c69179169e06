"""Registration, login and the refresh-token lifecycle: rotation, reuse detection, logout."""

import logging
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import RefreshToken, User
from app.auth.repository import RefreshTokenRepository, UserRepository
from app.auth.schemas import RegisterRequest, TokenPair
from app.core.config import Settings
from app.core.database import utcnow
from app.core.errors import ConflictError, UnauthorizedError
from app.core.passwords import PasswordHasher
from app.core.security import InvalidTokenError, TokenClaims, TokenCodec, TokenType

logger = logging.getLogger(__name__)

BAD_CREDENTIALS = "Invalid username or password"
BAD_REFRESH_TOKEN = "Invalid or expired refresh token"  # noqa: S105


class AuthService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        codec: TokenCodec,
        hasher: PasswordHasher,
    ) -> None:
        self.session = session
        self.settings = settings
        self.codec = codec
        self.hasher = hasher
        self.users = UserRepository(session)
        self.tokens = RefreshTokenRepository(session)

    async def register(self, data: RegisterRequest) -> tuple[User, TokenPair]:
        if await self.users.get_by_username(data.username) is not None:
            raise ConflictError("A user with that username already exists.")
        user = User(
            username=data.username,
            email=data.email,
            password_hash=await self.hasher.hash(data.password),
        )
        try:
            await self.users.add(user)
            tokens = await self._issue(user, family_id=uuid.uuid4())
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            raise ConflictError("A user with that username already exists.") from None
        logger.info("user registered", extra={"user_id": str(user.id)})
        return user, tokens

    async def create_staff_user(self, username: str, email: str | None, password: str) -> User:
        if await self.users.get_by_username(username) is not None:
            raise ConflictError("A user with that username already exists.")
        user = User(
            username=username,
            email=email,
            password_hash=await self.hasher.hash(password),
            is_staff=True,
        )
        await self.users.add(user)
        await self.session.commit()
        return user

    async def authenticate(self, username: str, password: str) -> User:
        """The same answer, in about the same time, whether or not the user exists."""
        user = await self.users.get_by_username(username)
        valid = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid or not user.is_active:
            raise UnauthorizedError(BAD_CREDENTIALS)
        return user

    async def login(self, username: str, password: str) -> TokenPair:
        user = await self.authenticate(username, password)
        tokens = await self._issue(user, family_id=uuid.uuid4())
        await self.session.commit()
        return tokens

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode_refresh(refresh_token)
        stored = await self.tokens.get(claims.jti)
        if stored is None or stored.revoked_at is not None:
            raise UnauthorizedError(BAD_REFRESH_TOKEN)
        now = utcnow()
        if not await self.tokens.mark_rotated(stored.jti, now):
            # Already used: either a stolen copy or the user's own copy is being replayed,
            # and we cannot tell which, so the whole family goes.
            await self.tokens.revoke_family(stored.family_id, now)
            await self.session.commit()
            logger.warning(
                "refresh token reuse detected; family revoked",
                extra={"user_id": str(stored.user_id)},
            )
            raise UnauthorizedError(BAD_REFRESH_TOKEN)
        user = await self.users.get(stored.user_id)
        if user is None or not user.is_active:
            await self.session.rollback()
            raise UnauthorizedError(BAD_REFRESH_TOKEN)
        tokens = await self._issue(user, family_id=stored.family_id)
        await self.session.commit()
        return tokens

    async def logout(self, user: User, refresh_token: str) -> None:
        claims = self._decode_refresh(refresh_token)
        stored = await self.tokens.get(claims.jti)
        if stored is None or stored.user_id != user.id:
            raise UnauthorizedError(BAD_REFRESH_TOKEN)
        await self.tokens.revoke_family(stored.family_id, utcnow())
        await self.session.commit()

    async def purge_expired_tokens(self) -> int:
        purged = await self.tokens.purge_expired(utcnow())
        await self.session.commit()
        return purged

    def _decode_refresh(self, token: str) -> TokenClaims:
        try:
            return self.codec.decode(token, TokenType.REFRESH)
        except InvalidTokenError:
            raise UnauthorizedError(BAD_REFRESH_TOKEN) from None

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
