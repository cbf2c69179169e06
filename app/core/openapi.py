"""The OpenAPI document, with every error response documented as what it really is: an RFC
9457 problem (`application/problem+json`), 422s included, and a 401 on every protected
operation. One pass over the generated document, so no route has to remember it."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import (
    PROBLEM_JSON,
    DatabaseUnavailableError,
    Problem,
    TransactionConflictError,
    problem_responses,
)
from app.core.query import document_query_models

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Operations that reach the database, hence may answer 503 database-unavailable.
DATABASE_PATHS = ("/api/", "/metrics")
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_response(status: int, documented: dict[str, Any] | None = None) -> dict[str, Any]:
    """A problem+json response, keeping the description and the per-type examples that
    app.core.errors.problem_responses wrote (FastAPI's own 422 description is replaced)."""
    documented = documented or {}
    description = documented.get("description")
    if not description or description == "Validation Error":
        description = HTTPStatus(status).phrase
    content: dict[str, Any] = {"schema": PROBLEM_REF}
    examples = documented.get("content", {}).get(PROBLEM_JSON, {}).get("examples")
    if examples:
        content["examples"] = examples
    return {"description": description, "content": {PROBLEM_JSON: content}}


def plain_parameter_schema(parameter: dict[str, Any]) -> None:
    """An optional parameter is absent, never null: `anyOf: [X, null]` is documented as X, the
    plain schema a client generator turns into a plain argument."""
    schema = parameter["schema"]
    branches = [branch for branch in schema.get("anyOf", ()) if branch != {"type": "null"}]
    if parameter.get("required") or len(branches) != 1:
        return
    del schema["anyOf"]
    schema.update(branches[0])


def _document_operation(operation: dict[str, Any], *, reaches_database: bool) -> None:
    for parameter in operation.get("parameters", ()):
        plain_parameter_schema(parameter)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        responses.setdefault("401", _problem_response(401))
    if reaches_database:
        responses.setdefault(
            "503", problem_responses(DatabaseUnavailableError, TransactionConflictError)[503]
        )
    for status in list(responses):
        if status.isdigit() and int(status) >= 400:
            responses[status] = _problem_response(int(status), responses[status])


def _add_problem_schemas(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        document_query_models(document, app.routes)
        for path, path_item in document.get("paths", {}).items():
            for operation in path_item.values():
                _document_operation(operation, reaches_database=path.startswith(DATABASE_PATHS))
        _add_problem_schemas(document)
        app.openapi_schema = document
        return document

    # FastAPI's documented way to extend the schema is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]
