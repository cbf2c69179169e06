"""Page-number pagination shared by every list: `{"count", "next", "previous", "results"}`.

`next` and `previous` are absolute URLs built from the request's own URL, so they keep every
filter the client sent. Page 1 always exists (empty or not); a page past the last is 404.
"""

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from app.core.errors import NotFoundError
from app.core.query import QueryModel

MAX_PAGE_SIZE = 100
Item = TypeVar("Item")


class PageRequest(QueryModel):
    """The `page` and `page_size` query parameters."""

    page: int = Field(1, ge=1, le=1_000_000, description="1-based page number")
    page_size: int = Field(10, ge=1, le=MAX_PAGE_SIZE, description="items per page")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def require_exists(self, count: int) -> None:
        """Raises 404 for a page past the last (page 1 always exists)."""
        if self.page > 1 and self.offset >= count:
            raise NotFoundError("Invalid page.")


PageRequestDep = Annotated[PageRequest, Depends(PageRequest.from_query)]


class Page(BaseModel, Generic[Item]):
    count: int
    next: str | None
    previous: str | None
    results: list[Item]


def page_links(request: Request, page: PageRequest, count: int) -> tuple[str | None, str | None]:
    """The absolute URLs of the next and previous pages, or None at either end."""
    next_url = previous_url = None
    if page.offset + page.page_size < count:
        next_url = str(request.url.include_query_params(page=page.page + 1))
    if page.page > 1:
        previous_url = str(request.url.include_query_params(page=page.page - 1))
    return next_url, previous_url
