"""Query models read in one validation are documented exactly as FastAPI documents its own."""

from typing import Annotated, Any

from fastapi import FastAPI, Query

from app.events.schemas import EventListQuery
from app.main import create_app
from tests.conftest import make_settings

NULL = {"type": "null"}


def documented_by_fastapi() -> dict[str, Any]:
    """The document FastAPI writes for the same models declared as its own query models."""
    scratch = FastAPI()

    @scratch.get("/list")
    async def listing(query: Annotated[EventListQuery, Query()]) -> None: ...

    return scratch.openapi()


def as_plain(parameter: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's optional parameter, `anyOf: [X, null]`, expected documented as X."""
    schema = parameter["schema"]
    if parameter.get("required") or NULL not in schema.get("anyOf", ()):
        return parameter
    [kept] = [branch for branch in schema["anyOf"] if branch != NULL]
    plain = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**parameter, "schema": {**plain, **kept}}


def test_the_event_list_parameters_are_documented_as_fastapi_would():
    """…then made plain, as every parameter is (an optional one is absent, never null)."""
    ours = create_app(make_settings("sqlite+aiosqlite:///./never-opened.db")).openapi()
    theirs = documented_by_fastapi()
    their_parameters = theirs["paths"]["/list"]["get"]["parameters"]
    assert any(NULL in p["schema"].get("anyOf", ()) for p in their_parameters)

    assert ours["paths"]["/api/events"]["get"]["parameters"] == [
        as_plain(parameter) for parameter in their_parameters
    ]
    for name in ("EventStatus", "EventOrdering"):
        assert ours["components"]["schemas"][name] == theirs["components"]["schemas"][name]
