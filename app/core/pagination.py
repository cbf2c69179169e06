"""Page-number pagination shared by every list: `{"count", "next", "previous", "results"}`.

A service answers a `PageRequest` with `Found` (the page's items and how many match in all);
the router turns that into the page, whose `next` and `previous` are absolute URLs built from
the request's own URL, so they keep every filter the client sent. Page 1 always exists (empty or
not); a page past the last is 404.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends
from pydantic import BaseModel, Field
from starlette.datastructures import URL

from app.core.errors import PageNotFoundError
from app.core.query import QueryModel

MAX_PAGE_SIZE = 100
Item = TypeVar("Item")


class PageRequest(QueryModel):
    """The `page` and `page_size` query parameters."""

    page: int = Field(1, ge=1, le=1_000_000, description="1-based page number")
    page_size: int = Field(10, ge=1, le=MAX_PAGE_SIZE, description="Items per page")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


PageRequestDep = Annotated[PageRequest, Depends(PageRequest.from_query)]


@dataclass(frozen=True, slots=True)
class Found(Generic[Item]):
    """One page of a list, as a service finds it: its items and the count of all matches."""

    items: Sequence[Item]
    count: int


class Page(BaseModel, Generic[Item]):
    count: int = Field(description="How many items match, on every page together")
    next: str | None = Field(
        description="The absolute URL of the next page, keeping every filter; null on the last"
    )
    previous: str | None = Field(
        description="The absolute URL of the previous page, keeping every filter; null on the first"
    )
    results: list[Item] = Field(description="This page's items, in the list's order")


def page_body(url: URL, page: PageRequest, found: Found[Any]) -> dict[str, Any]:
    """The page's fields, to be validated as a `Page[...]` in one call; 404 past the last
    page."""
    if page.page > 1 and page.offset >= found.count:
        raise PageNotFoundError()
    next_url = previous_url = None
    if page.offset + page.page_size < found.count:
        next_url = str(url.include_query_params(page=page.page + 1))
    if page.page > 1:
        previous_url = str(url.include_query_params(page=page.page - 1))
    return {
        "count": found.count,
        "next": next_url,
        "previous": previous_url,
        "results": found.items,
    }
