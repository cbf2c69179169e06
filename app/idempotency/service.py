"""Idempotency-Key replay: the same key from the same user with the same request gets the
first successful response back, for 24 hours; the same key with another request is 422.

The response is stored in the request's own unit of work, so it exists if and only if what it
describes does. Error responses are not stored: a request that failed changed nothing, and its
retry simply runs again."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from app.core.database import UnitOfWork, utcnow
from app.core.errors import AppError
from app.idempotency.errors import IdempotencyKeyReusedError
from app.idempotency.models import IdempotencyKey
from app.idempotency.repository import IdempotencyKeyRepository

KEY_TTL = timedelta(hours=24)
Response = TypeVar("Response", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Asked:
    """What a request asks for, as far as its key is concerned: the operation, on what, and the
    body."""

    operation: str
    target: object
    body: BaseModel


def fingerprint(request: Asked) -> str:
    described = {
        "operation": request.operation,
        "target": str(request.target),
        **request.body.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class Idempotency:
    """One request's Idempotency-Key (or none), in the request's unit of work."""

    def __init__(self, work: UnitOfWork, user_id: uuid.UUID, key: str | None) -> None:
        self._work = work
        self._user_id = user_id
        self._key = key
        self._keys = IdempotencyKeyRepository(work.session)

    async def once(
        self,
        request: Asked,
        model: type[Response],
        produce: Callable[[], Awaitable[Response]],
    ) -> Response:
        """The first response to this request under this key, or a new one from `produce`.
        Without a key, `produce` alone (the request is not even fingerprinted)."""
        if self._key is None:
            return await produce()
        request_fingerprint = fingerprint(request)
        if (replay := await self._replay(request_fingerprint, model)) is not None:
            return replay
        try:
            async with self._work.savepoint():
                response = await produce()
                await self._remember(request_fingerprint, response)
        except (IntegrityError, AppError):
            # A concurrent request under the same key may have won the race (the same key, or
            # the same seat or email): its response is then ours too.
            if (replay := await self._replay(request_fingerprint, model)) is not None:
                return replay
            raise
        return response

    async def _replay(self, request_fingerprint: str, model: type[Response]) -> Response | None:
        assert self._key is not None
        record = await self._keys.get(self._user_id, self._key)
        if record is None:
            return None
        if record.expires_at <= utcnow():
            await self._keys.delete(record)
            return None
        if not hmac.compare_digest(record.fingerprint, request_fingerprint):
            raise IdempotencyKeyReusedError()
        return model.model_validate(record.response_body)

    async def _remember(self, request_fingerprint: str, response: BaseModel) -> None:
        assert self._key is not None
        now = utcnow()
        body: dict[str, Any] = response.model_dump(mode="json")
        await self._keys.add(
            IdempotencyKey(
                user_id=self._user_id,
                key=self._key,
                fingerprint=request_fingerprint,
                status_code=HTTPStatus.CREATED,
                response_body=body,
                created_at=now,
                expires_at=now + KEY_TTL,
            )
        )


async def purge_expired_keys(work: UnitOfWork) -> int:
    return await IdempotencyKeyRepository(work.session).purge_expired(utcnow())
