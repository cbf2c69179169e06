"""The Idempotency-Key header at the HTTP edge: a route that creates something takes the
header and runs its work through `Idempotency(work, user_id, key).once`. Not a dependency of
its own: on the registering path each dependency FastAPI resolves (its sub-dependencies
again, even when cached) costs about 0.1 M instructions, bench/README.md."""

from typing import Annotated

from fastapi import Header
from pydantic import Field

from app.core.text import STORABLE_TEXT

IdempotencyKeyHeader = Annotated[
    Annotated[str, Field(max_length=255), STORABLE_TEXT] | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body get the first response back (24 h)",
    ),
]
