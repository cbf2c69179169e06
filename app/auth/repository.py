import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import RefreshToken, User
from app.core.database import rowcount


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(User.username == username))

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def erase(
        self, user_id: uuid.UUID, username: str, password_hash: str, now: datetime
    ) -> bool:
        """Leaves nothing of the person in the account: the placeholder `username`, no email,
        a password nobody knows, no role, inactive, `erased_at` = now (which the database
        announces to every process on PostgreSQL: migration 0011). False when it was erased
        already; on PostgreSQL a concurrent erasure of the same account waits here for this
        one, and then finds it erased."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, User.erased_at.is_(None))
            .values(
                username=username,
                email=None,
                password_hash=password_hash,
                is_active=False,
                is_staff=False,
                is_door=False,
                erased_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def erased_since(self, since: datetime) -> dict[uuid.UUID, datetime]:
        rows = await self.session.execute(
            select(User.id, User.erased_at).where(User.erased_at >= since)
        )
        return {user_id: erased_at for user_id, erased_at in rows if erased_at is not None}


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get(self, jti: str) -> RefreshToken | None:
        return await self.session.get(RefreshToken, jti)

    async def mark_rotated(self, jti: str, now: datetime) -> bool:
        """Marks a live token used; False when another request used or revoked it first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.jti == jti,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(rotated_at=now)
        )
        return rowcount(result) == 1

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def of_user(self, user_id: uuid.UUID) -> Sequence[RefreshToken]:
        rows = await self.session.scalars(
            select(RefreshToken)
            .where(RefreshToken.user_id == user_id)
            .order_by(RefreshToken.created_at, RefreshToken.jti)
        )
        return rows.all()

    async def revoke_all(self, user_id: uuid.UUID, now: datetime) -> int:
        """Revokes every live refresh token of the user; returns how many."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return rowcount(result)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < now)
        )
        return rowcount(result)
