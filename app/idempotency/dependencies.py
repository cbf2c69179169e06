"""The Idempotency-Key header at the HTTP edge: a route that creates something takes an
`IdempotencyDep` and runs its work through `once`."""

from typing import Annotated

from fastapi import Depends, Header
from pydantic import Field

from app.auth.dependencies import CurrentUserId
from app.core.text import STORABLE_TEXT
from app.dependencies import UnitOfWorkDep
from app.idempotency.service import Idempotency

IdempotencyKeyHeader = Annotated[
    Annotated[str, Field(max_length=255), STORABLE_TEXT] | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body get the first response back (24 h)",
    ),
]


async def get_idempotency(
    work: UnitOfWorkDep, user_id: CurrentUserId, key: IdempotencyKeyHeader = None
) -> Idempotency:
    return Idempotency(work, user_id, key)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
