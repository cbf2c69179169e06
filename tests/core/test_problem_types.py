"""Every domain error has a problem type of its own, documented in the OpenAPI document under
the status it maps to, and at its own address."""

from http import HTTPStatus

import pytest

import app.main  # noqa: F401 - imports every router, hence every error class
from app.core.errors import AppError

ERRORS = sorted(AppError.registry.values(), key=lambda error: error.slug)


def documented_types(schema: dict) -> dict[str, set[str]]:
    """Each problem type the document names, with the statuses it is documented under."""
    found: dict[str, set[str]] = {}
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/problem+json", {})
                for example in content.get("examples", {}).values():
                    found.setdefault(example["value"]["type"], set()).add(status)
    return found


def test_problem_types_are_distinct_uris():
    uris = [error.type_uri() for error in ERRORS]

    assert len(set(uris)) == len(uris)
    assert all(uri.startswith("/problems/") for uri in uris)


async def test_each_problem_type_is_documented_under_its_status(client):
    schema = (await client.get("/openapi.json")).json()
    documented = documented_types(schema)

    undocumented = [error.slug for error in ERRORS if error.type_uri() not in documented]
    assert undocumented == []
    for error in ERRORS:
        assert documented[error.type_uri()] == {str(int(error.status))}, error.slug


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.slug)
async def test_each_problem_type_leads_to_its_documentation(client, error):
    page = await client.get(error.type_uri())

    assert page.status_code == 200
    assert f"HTTP {int(error.status)} {HTTPStatus(error.status).phrase}" in page.text


async def test_a_domain_error_answers_with_its_own_type(client):
    from tests.support.auth import access_token, bearer

    headers = bearer(await access_token(client))
    response = await client.get("/api/events/3fa85f64-5717-4562-b3fc-2c963f66afa6", headers=headers)

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/event-not-found"
