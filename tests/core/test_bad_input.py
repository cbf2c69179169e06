"""Bad input is a 422, never a 500 (SPEC §4.8, issue 22): text the database cannot store — a NUL,
a lone surrogate — is refused wherever a request carries it, with one error naming the value
and a detail that reads as sentences; on SQLite as on PostgreSQL (which refuses both)."""

import json

import httpx
import pytest

from tests.support.auth import PASSWORD, access_token, bearer, register
from tests.support.events import create_event

NUL = "\x00"
LONE_SURROGATE = "\ud800"  # JSON carries it as the escape `\ud800`
UNSTORABLE = pytest.mark.parametrize(
    ("bad", "named"),
    [(NUL, "a NUL character (U+0000)"), (LONE_SURROGATE, "a lone surrogate (U+D800)")],
    ids=["nul", "lone-surrogate"],
)
VISITOR = {"full_name": "Иван Петров", "email": "ivan@example.com"}


def code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await access_token(client))


async def post_json(
    client: httpx.AsyncClient, url: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    """`body` as JSON with every non-ASCII character escaped, as a lone surrogate must be."""
    return await client.post(
        url,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def the_one_error(response: httpx.Response) -> dict[str, object]:
    """The single error of a 422 validation problem whose detail is sentences."""
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    [error] = problem["errors"]
    assert problem["detail"].startswith("The request is not valid. ")
    assert problem["detail"].endswith(".")
    assert ".." not in problem["detail"]
    assert ".;" not in problem["detail"]
    return error


def refused_as_unstorable(response: httpx.Response, loc: list[str], named: str) -> None:
    error = the_one_error(response)
    assert error == {
        "loc": loc,
        "msg": f"String should not contain {named}",
        "type": "string_unstorable_character",
    }
    assert response.json()["detail"].endswith(f" {'.'.join(loc)}: {error['msg']}.")


@UNSTORABLE
@pytest.mark.parametrize("field", ["username", "password"])
async def test_login_refuses_unstorable_credentials(client, bad, named, field):
    credentials = {"username": "ivan", "password": PASSWORD} | {field: f"iv{bad}an"}

    response = await post_json(client, "/api/auth/login", credentials)

    refused_as_unstorable(response, ["body", field], named)


async def test_the_login_form_refuses_a_nul_in_the_username(client):
    response = await client.post(
        "/api/auth/token", data={"username": f"iv{NUL}an", "password": PASSWORD}
    )

    refused_as_unstorable(response, ["body", "username"], "a NUL character (U+0000)")


@UNSTORABLE
@pytest.mark.parametrize("field", ["username", "password"])
async def test_register_refuses_unstorable_text(client, bad, named, field):
    body = {"username": "ivan", "password": PASSWORD} | {field: f"ivan-{bad}-petrov"}

    response = await post_json(client, "/api/auth/register", body)

    refused_as_unstorable(response, ["body", field], named)


@UNSTORABLE
async def test_register_refuses_an_unstorable_email(client, bad, named):
    body = {"username": "ivan", "password": PASSWORD, "email": f"iv{bad}an@example.com"}

    error = the_one_error(await post_json(client, "/api/auth/register", body))

    assert error["loc"] == ["body", "email"]
    assert code_point(bad) in str(error["msg"])  # email-validator's own message names it too


@UNSTORABLE
async def test_a_refresh_token_with_unstorable_text_is_refused(client, bad, named):
    response = await post_json(client, "/api/auth/token/refresh", {"refresh_token": f"a{bad}"})

    refused_as_unstorable(response, ["body", "refresh_token"], named)


@pytest.mark.parametrize("parameter", ["name", "search"])
async def test_the_event_list_refuses_a_nul_in_the_name_it_looks_for(client, auth, parameter):
    # The fuzzer's find: a query string can carry a NUL (%00), not a lone surrogate (a
    # percent-encoded one is not UTF-8, and is read as U+FFFD).
    response = await client.get(f"/api/events?{parameter}=%C2%86%13%00", headers=auth)

    refused_as_unstorable(response, ["query", parameter], "a NUL character (U+0000)")


@UNSTORABLE
@pytest.mark.parametrize("field", ["full_name", "email"])
async def test_a_registration_refuses_unstorable_text(client, auth, db, bad, named, field):
    event = await create_event(db)
    body = VISITOR | {field: f"iv{bad}an@example.com"}

    error = the_one_error(await post_json(client, f"/api/events/{event.id}/register", body, auth))

    assert error["loc"] == ["body", field]
    assert code_point(bad) in str(error["msg"])


async def test_an_idempotency_key_with_a_nul_is_refused(client, auth, db):
    event = await create_event(db)
    headers = auth | {"Idempotency-Key": f"key{NUL}1"}

    response = await post_json(client, f"/api/events/{event.id}/register", VISITOR, headers)

    refused_as_unstorable(response, ["header", "Idempotency-Key"], "a NUL character (U+0000)")


@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80"], ids=["nul", "encoded-lone-surrogate"])
@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/events/{}", "event_id"), ("/api/registrations/{}", "registration_id")],
)
async def test_a_path_id_with_unstorable_text_is_refused(client, auth, bad, path, name):
    response = await client.get(path.format(bad), headers=auth)

    assert the_one_error(response)["loc"] == ["path", name]


@pytest.mark.parametrize("parameter", ["date_from", "date_to"])
@pytest.mark.parametrize("value", ["2026-13-01", "2026-04-06T25:00", "yesterday"])
async def test_a_bad_date_is_one_error(client, auth, parameter, value):
    response = await client.get("/api/events", params={parameter: value}, headers=auth)

    error = the_one_error(response)
    assert error["loc"] == ["query", parameter]
    assert str(error["msg"]).startswith("Input should be a valid date or datetime")


async def test_a_detail_names_each_bad_value_in_a_sentence(client, auth):
    response = await client.get("/api/events?page=0&date_to=2026-13-01", headers=auth)

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "The request is not valid. query.page: Input should be greater than or equal to 1. "
        "query.date_to: Input should be a valid date or datetime, month value is outside "
        "expected range of 1-12."
    )


async def test_a_message_of_our_own_rules_reads_without_pydantic_prefix(client):
    response = await post_json(
        client, "/api/auth/register", {"username": "ivan", "password": "1234567890"}
    )

    assert the_one_error(response)["msg"] == "password must not be entirely numeric"


async def test_text_beyond_ascii_is_still_welcome(client):
    tokens = await register(client, "иван.петров", "пароль-на-кириллице")

    assert tokens["user"]["username"] == "иван.петров"  # type: ignore[index]
