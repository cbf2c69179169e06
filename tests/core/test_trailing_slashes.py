"""Every path answers with and without a trailing slash, directly (SPEC §4): the old service's
clients call both, and a redirect loses a POST's body in some of them. Only /admin redirects,
to the admin site at /admin/."""

import re
import uuid

import pytest

from app.main import create_app
from tests.conftest import make_settings

UNKNOWN_ROUTE = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not Found"}
SAMPLE_VALUES = {"slug": "validation-error"}
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def concrete(path: str) -> str:
    return PARAMETER.sub(lambda match: SAMPLE_VALUES.get(match[1], str(uuid.uuid4())), path)


# The pages the OpenAPI document leaves out; /admin, the one redirect, is tested on its own.
UNDOCUMENTED = [
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/problems/{slug}"),
]


def every_operation() -> list[tuple[str, str]]:
    document = create_app(make_settings("sqlite+aiosqlite:///./never-opened.db")).openapi()
    documented = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    ]
    return sorted(documented + UNDOCUMENTED)


OPERATIONS = every_operation()


def test_the_operations_include_the_pages_outside_the_api():
    paths = {path for _, path in OPERATIONS}

    assert {"/docs", "/openapi.json", "/metrics", "/health/live", "/health/ready"} <= paths
    assert len(OPERATIONS) > 20


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(op) for op in OPERATIONS])
async def test_a_trailing_slash_reaches_the_same_operation_directly(client, method, path):
    url = concrete(path)

    bare = await client.request(method, url)
    slashed = await client.request(method, url + "/")

    assert bare.status_code == slashed.status_code
    assert not bare.is_redirect
    if slashed.headers.get("content-type", "").endswith("json"):
        assert slashed.json() != UNKNOWN_ROUTE
        assert bare.json().keys() == slashed.json().keys()


async def test_admin_leads_to_the_admin_site(client):
    redirect = await client.get("/admin")
    site = await client.get("/admin/")

    assert redirect.status_code == 307
    assert redirect.headers["location"] == "http://testserver/admin/"
    assert site.status_code == 302  # to its login page
    assert site.headers["location"] == "http://testserver/admin/login"
