"""RFC 9457 problem details for every error the service answers with.

Each case a client may want to tell apart is its own `AppError` subclass with its own problem
`type` (`/problems/<slug>`, documented at that address and in the OpenAPI document), raised by
services and rendered here. Errors with no meaning beyond their status (an unknown route, a
wrong method) keep `about:blank`, as RFC 9457 asks.
"""

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.middleware import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPES_PATH = "/problems"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
PYDANTIC_VALUE_ERROR_PREFIX = "Value error, "


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where the bad value is: `body`, `query`, `path` or `header`, then its name"
    )
    msg: str = Field(description="What is wrong with it, in a sentence")
    type: str = Field(description="The kind of error, as pydantic names it (`missing`, …)")


class Problem(BaseModel):
    """The body of every error response (documented in OpenAPI)."""

    type: str = Field(
        "about:blank",
        description="A URI naming the kind of problem (`/problems/<slug>`, a page that explains "
        "it): what a client should branch on",
    )
    title: str = Field(description="A short summary of that kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str | None = Field(
        None,
        description="What went wrong this time, in sentences; null only when the title says all",
    )
    errors: list[FieldError] | None = Field(
        None, description="For 422 only: one entry per bad value; null otherwise"
    )


class AppError(Exception):
    """An error with a meaning for the API consumer. A concrete case names its `slug` (its
    problem type is `/problems/<slug>`), its `status`, and the `detail` it says by default."""

    status: ClassVar[int] = HTTPStatus.BAD_REQUEST
    slug: ClassVar[str] = ""
    detail_text: ClassVar[str] = ""
    headers: dict[str, str]
    # RFC 9457 extension members: more the client may show (none by default).
    extensions: dict[str, Any]

    registry: ClassVar[dict[str, type["AppError"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.slug:
            if cls.slug in AppError.registry:
                raise TypeError(f"problem type {cls.slug!r} is defined twice")
            AppError.registry[cls.slug] = cls

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.detail_text
        super().__init__(self.detail)
        self.headers = headers or {}
        self.extensions = {}

    @classmethod
    def type_uri(cls) -> str:
        return f"{PROBLEM_TYPES_PATH}/{cls.slug}" if cls.slug else "about:blank"

    @classmethod
    def title(cls) -> str:
        return HTTPStatus(cls.status).phrase

    @classmethod
    def describe(cls) -> str:
        """What the problem means, for its documentation page and the OpenAPI document."""
        return " ".join((cls.__doc__ or cls.detail_text).split())


class BadRequestError(AppError):
    status = HTTPStatus.BAD_REQUEST


class UnauthorizedError(AppError):
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers=BEARER_CHALLENGE)


class ForbiddenError(AppError):
    status = HTTPStatus.FORBIDDEN


class NotFoundError(AppError):
    status = HTTPStatus.NOT_FOUND


class ConflictError(AppError):
    status = HTTPStatus.CONFLICT


class UnprocessableError(AppError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class TooManyRequestsError(AppError):
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(detail, headers=headers)


class ServiceUnavailableError(AppError):
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


# Long enough for a pool to reconnect or a failover to finish, short enough to feel live.
DATABASE_RETRY_AFTER_SECONDS = 2
# The transaction that won has finished by the time its loser is told.
TRANSACTION_RETRY_AFTER_SECONDS = 1


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database could not be reached (it is restarting or failing over, the connection
    was cut, or every connection stayed busy too long). Try again after `Retry-After`
    seconds; a POST sent again with the same `Idempotency-Key` is not done twice."""

    slug = "database-unavailable"
    detail_text = "The database is unavailable for a moment; try again shortly."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=DATABASE_RETRY_AFTER_SECONDS)


class TransactionConflictError(ServiceUnavailableError):
    """The database rolled this request's transaction back so that a concurrent one could
    finish (a deadlock, or a serialization failure): nothing was done. Try again after
    `Retry-After` seconds; a POST sent again with the same `Idempotency-Key` is not done twice."""

    slug = "transaction-conflict"
    detail_text = "A concurrent change to the same data won; nothing was done; try again."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=TRANSACTION_RETRY_AFTER_SECONDS)


class RateLimitedError(TooManyRequestsError):
    """Too many attempts from this client or for this username; `Retry-After` says when to
    try again."""

    slug = "rate-limited"
    detail_text = "Too many attempts; try again later."


class RequestInvalidError(UnprocessableError):
    """A parameter or the body is malformed; `errors` names each field (`loc`) and why."""

    slug = "validation-error"
    detail_text = "The request is not valid."


class PageNotFoundError(NotFoundError):
    """The page asked for is past the last one (page 1 always exists)."""

    slug = "page-not-found"
    detail_text = "Invalid page."


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    type_uri: str = "about:blank",
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": type_uri,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def request_invalid(errors: Iterable[ErrorDetails], location: str) -> RequestValidationError:
    """pydantic's errors in a value validated outside FastAPI's own validation (a query string
    read as a model, a form read again as a body), as FastAPI reports its own: under
    `location` (`query`, `body`)."""
    return RequestValidationError([{**item, "loc": (location, *item["loc"])} for item in errors])


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # Only loc, msg and type: pydantic's "input" and "ctx" may echo a password back. A rule of
    # ours (a ValueError in a validator) says its message without pydantic's prefix.
    return [
        {
            "loc": list(item["loc"]),
            "msg": item["msg"].removeprefix(PYDANTIC_VALUE_ERROR_PREFIX),
            "type": item["type"],
        }
        for item in error.errors()
    ]


def _sentence(text: str) -> str:
    return text.rstrip(" .,:;") + "."


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    """The problem's text, then a sentence for each bad value saying where it is and why."""
    reasons = (_sentence(f"{'.'.join(map(str, item['loc']))}: {item['msg']}") for item in errors)
    return " ".join([RequestInvalidError.detail_text, *reasons])


async def _app_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    return problem_response(
        error.status,
        error.detail,
        type_uri=error.type_uri(),
        headers=error.headers,
        extensions=error.extensions,
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.UNAUTHORIZED:
        headers.update(BEARER_CHALLENGE)
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(error.status_code, detail, headers=headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = _field_errors(error)
    return problem_response(
        RequestInvalidError.status,
        _validation_detail(errors),
        type_uri=RequestInvalidError.type_uri(),
        errors=errors,
    )


async def _unhandled_error(request: Request, error: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) or current_request_id()
    logger.error(
        "unhandled error on %s %s (request id %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=error,
        extra={"request_id": request_id},
    )
    return problem_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        f"An unexpected error occurred. Quote request id {request_id} when reporting it.",
        headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)


Answer = type[AppError] | int


def problem_responses(*answers: Answer) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route answers with: error classes (each documented
    under its status with its problem type) or bare statuses (422, 401, …). app.core.openapi
    gives them their problem+json schema."""
    by_status: dict[int, list[type[AppError]]] = {}
    for answer in answers:
        if isinstance(answer, int):
            by_status.setdefault(answer, [])
        else:
            by_status.setdefault(int(answer.status), []).append(answer)
    return {status: _documented(status, errors) for status, errors in sorted(by_status.items())}


def _documented(status: int, errors: Iterable[type[AppError]]) -> dict[str, Any]:
    errors = list(dict.fromkeys(errors))
    entry: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if errors:
        entry["description"] += ", one of:\n\n" + "\n".join(
            f"- `{error.type_uri()}`: {error.describe()}" for error in errors
        )
        examples = {
            error.slug: {
                "summary": error.detail_text,
                "value": {
                    "type": error.type_uri(),
                    "title": error.title(),
                    "status": status,
                    "detail": error.detail_text,
                },
            }
            for error in errors
        }
        entry["content"] = {PROBLEM_JSON: {"examples": examples}}
    return entry
