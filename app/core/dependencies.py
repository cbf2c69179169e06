"""What the lifespan made once, handed to routes as dependencies.

Dependencies that never await are still `async def`: FastAPI runs a plain `def` dependency in
a worker thread, a hand-off that costs more than the work of these.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.passwords import PasswordHasher
from app.core.security import TokenCodec


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_token_codec(request: Request) -> TokenCodec:
    return request.app.state.token_codec  # type: ignore[no-any-return]


async def get_password_hasher(request: Request) -> PasswordHasher:
    return request.app.state.password_hasher  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Services commit; closing here rolls back whatever a failed request left open.
    async with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
