"""Query models read in one validation are documented exactly as FastAPI documents its own."""

from typing import Annotated, Any

from fastapi import FastAPI, Query

from app.core.openapi import plain_parameter_schema
from app.events.schemas import EventListQuery
from app.main import create_app
from tests.conftest import make_settings


def documented_by_fastapi() -> dict[str, Any]:
    """The document FastAPI writes for the same models declared as its own query models."""
    scratch = FastAPI()

    @scratch.get("/list")
    async def listing(query: Annotated[EventListQuery, Query()]) -> None: ...

    return scratch.openapi()


def test_the_event_list_parameters_are_documented_as_fastapi_would():
    """…then made plain, as every parameter is (an optional one is absent, never null)."""
    ours = create_app(make_settings("sqlite+aiosqlite:///./never-opened.db")).openapi()
    theirs = documented_by_fastapi()
    their_parameters = theirs["paths"]["/list"]["get"]["parameters"]
    for parameter in their_parameters:
        plain_parameter_schema(parameter)

    assert ours["paths"]["/api/events"]["get"]["parameters"] == their_parameters
    for name in ("EventStatus", "EventOrdering"):
        assert ours["components"]["schemas"][name] == theirs["components"]["schemas"][name]
