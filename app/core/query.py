"""Query-string models, read in one pydantic validation and documented in OpenAPI.

FastAPI's own query models (`Annotated[Model, Query()]`) examine every field's type annotation
again on every request (fastapi/fastapi#13824): for the event list's nine parameters, an eighth
of the request's time (bench/README.md). A `QueryModel` dependency validates the whole query
string in one `model_validate` instead. FastAPI cannot see fields read that way, so
`document_query_models` adds them to the OpenAPI operations, parameter for parameter as FastAPI
would have written them.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self, TypeVar

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.routing import BaseRoute

from app.core.errors import request_invalid

REF_TEMPLATE = "#/components/schemas/{model}"


class QueryModel(BaseModel):
    """Query parameters as a model: `Annotated[M, Depends(M.from_query)]` in a route.
    Parameters the model does not name are ignored, as FastAPI ignores them."""

    @classmethod
    async def from_query(cls, request: Request) -> Self:
        try:
            return cls.model_validate(request.query_params)
        except ValidationError as error:
            errors = _one_per_parameter(error.errors(include_url=False))
            raise request_invalid(errors, "query") from None

    @classmethod
    def openapi_parameters(cls, schemas: dict[str, Any]) -> list[dict[str, Any]]:
        """The model's fields as OpenAPI query parameters; the schemas they refer to are
        added to `schemas` (the document's components)."""
        schema = cls.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(schema.get("$defs", {}))
        required = set(schema.get("required", ()))
        parameters = []
        for name, field_schema in schema["properties"].items():
            if "default" in field_schema and field_schema["default"] is None:
                del field_schema["default"]  # a query parameter is absent, never null
            if "$ref" not in field_schema:
                field_schema.setdefault("title", name.replace("_", " ").title())
            parameter = {"name": name, "in": "query", "required": name in required}
            parameter["schema"] = field_schema
            if "description" in field_schema:
                parameter["description"] = field_schema["description"]
            parameters.append(parameter)
        return parameters


def _one_per_parameter(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """The first error of each parameter, under its name alone: a union (a date or a datetime)
    reports an error for each of its members, under each member's name."""
    first: dict[tuple[int | str, ...], ErrorDetails] = {}
    for error in errors:
        parameter = error["loc"][:1]
        first.setdefault(parameter, {**error, "loc": parameter})
    return list(first.values())


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def reads_query(*models: type[QueryModel]) -> Callable[[Endpoint], Endpoint]:
    """Marks a route that reads its query string itself, with these models, and only when it
    must (a page answered from memory, or a 304, was validated when first answered): they are
    documented as if they were its dependencies."""

    def mark(endpoint: Endpoint) -> Endpoint:
        # A function takes any attribute; the Callable it is typed as declares none.
        endpoint.__query_models__ = models  # type: ignore[attr-defined]
        return endpoint

    return mark


def _query_models(dependant: Dependant) -> Iterator[type[QueryModel]]:
    for dependency in dependant.dependencies:
        owner = getattr(dependency.call, "__self__", None)
        if isinstance(owner, type) and issubclass(owner, QueryModel):
            yield owner
        yield from _query_models(dependency)


def document_query_models(document: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Adds each route's QueryModel fields to its operations' parameters."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for route in iter_route_contexts(routes):  # included routers' routes too
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        declared = getattr(route.original_route.endpoint, "__query_models__", ())
        models = list(dict.fromkeys([*_query_models(route.dependant), *declared]))
        for method in (route.methods or ()) if models else ():
            operation = document["paths"][route.path_format][method.lower()]
            parameters = operation.setdefault("parameters", [])
            for model in models:
                parameters.extend(model.openapi_parameters(schemas))
