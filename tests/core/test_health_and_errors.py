import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import make_settings


async def test_live_answers_without_a_database_call(client):
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/ready", "/health/ready/"])
async def test_ready_when_the_database_is_at_head(client, path):
    response = await client.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def _get_ready(application: FastAPI) -> httpx.Response:
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        return await http.get("/health/ready")


async def test_not_ready_when_migrations_are_not_applied(tmp_path):
    empty = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")

    response = await _get_ready(create_app(empty))

    assert response.status_code == 503
    assert response.json()["detail"] == "Database migrations are not at head."


async def test_not_ready_when_the_database_does_not_answer():
    unreachable = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")

    response = await _get_ready(create_app(unreachable))

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "127.0.0.1" not in response.text


async def test_unknown_route_is_a_problem_document(client):
    response = await client.get("/api/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }


async def test_wrong_method_is_a_problem_document(client):
    response = await client.delete("/api/auth/login")

    assert response.status_code == 405
    assert response.json()["status"] == 405


async def test_malformed_json_is_a_422_problem(client):
    response = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"]


async def test_unhandled_error_is_a_500_without_internals_and_logged_with_the_request_id(
    settings, caplog
):
    application = create_app(settings)

    @application.get("/api/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals: SELECT * FROM users")

    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as http,
    ):
        response = await http.get("/api/explode", headers={"X-Request-ID": "req-123"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text
    assert "req-123" in response.json()["detail"]
    assert response.headers["x-request-id"] == "req-123"
    logged = [record for record in caplog.records if "req-123" in record.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


async def test_a_request_id_is_made_when_none_is_sent(client):
    response = await client.get("/health/live")

    assert len(response.headers["x-request-id"]) == 32


async def test_a_malformed_request_id_is_replaced(client):
    response = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})

    assert response.headers["x-request-id"] != "bad id\twith spaces"


async def test_docs_and_openapi_are_served(client):
    docs = await client.get("/docs")
    schema = await client.get("/openapi.json")

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    security = schema.json()["components"]["securitySchemes"]
    assert security["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/auth/token"
    # The registering route's bearer is a class of its own (it refuses an event known full).
    register = schema.json()["paths"]["/api/events/{event_id}/register"]["post"]
    assert register["security"] == [{"OAuth2PasswordBearer": []}]
