"""RFC 9457 problem details for every error the service answers with."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.middleware import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every error response (documented in OpenAPI)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    """An error with a meaning for the API consumer; raised by services, rendered here."""

    status_code: int = HTTPStatus.BAD_REQUEST

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}


class NotFoundError(AppError):
    status_code = HTTPStatus.NOT_FOUND


class ConflictError(AppError):
    status_code = HTTPStatus.CONFLICT


class UnprocessableError(AppError):
    status_code = HTTPStatus.UNPROCESSABLE_ENTITY


class TooManyRequestsError(AppError):
    status_code = HTTPStatus.TOO_MANY_REQUESTS


class ForbiddenError(AppError):
    status_code = HTTPStatus.FORBIDDEN


class UnauthorizedError(AppError):
    status_code = HTTPStatus.UNAUTHORIZED

    def __init__(self, detail: str = "Could not validate credentials") -> None:
        super().__init__(detail, headers=BEARER_CHALLENGE)


def problem_response(
    status_code: int,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=headers, media_type=PROBLEM_JSON)


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # Only loc, msg and type: pydantic's "input" and "ctx" may echo a password back.
    return [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]


async def _app_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    return problem_response(error.status_code, error.detail, headers=error.headers)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.UNAUTHORIZED:
        headers.update(BEARER_CHALLENGE)
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(error.status_code, detail, headers=headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "The request is not valid.",
        errors=_field_errors(error),
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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with (app.core.openapi
    gives them their problem+json schema)."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}
