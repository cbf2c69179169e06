"""The OpenAPI document as a client generator meets it (SPEC §4.8): stable `domain_verb`
operation ids, a tag and a summary on each operation, problem types on every error, plain
parameter schemas, `Idempotency-Key` only where it is honoured, every field described."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.main import create_app
from tests.conftest import make_settings

DOMAINS = ("auth", "events", "registrations", "waitlist", "tickets", "checkin", "sync")
OPERATION_ID = re.compile(rf"^({'|'.join((*DOMAINS, 'operations'))})_[a-z]+(_[a-z]+)*$")
NOT_A_WORD = re.compile(r"\W")
HONOURS_IDEMPOTENCY_KEY = {"registrations_create", "waitlist_join"}
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database = tmp_path_factory.mktemp("openapi") / "openapi.db"
    return create_app(make_settings(f"sqlite+aiosqlite:///{database}")).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_stable_domain_verb_id_its_tag_and_a_summary(document):
    ids = [operation["operationId"] for _, operation in operations(document)]

    assert len(ids) == len(set(ids))
    for label, operation in operations(document):
        operation_id = operation["operationId"]
        assert OPERATION_ID.match(operation_id), (label, operation_id)
        # FastAPI's own ids are the function's name, the path and the method:
        # `confirm_api_registrations__registration_id__confirm_post`.
        method, path = label.split()
        assert not operation_id.endswith(NOT_A_WORD.sub("_", f"{path}_{method.lower()}")), label
        assert operation["tags"] == [operation_id.split("_")[0]], label
        assert operation.get("summary"), label
    assert {"events_list", "registrations_confirm", "checkin_scan"} <= set(ids)


def test_every_error_response_is_a_problem_that_names_its_types(document):
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            problem = response["content"][PROBLEM_JSON]
            assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, label
            types = [example["value"]["type"] for example in problem.get("examples", {}).values()]
            assert types or int(status) in (422, 401), (label, status)
            assert all(t.startswith("/problems/") for t in types), (label, status)
            assert ".;" not in response["description"], (label, status)


def test_parameters_have_plain_schemas_and_idempotency_keys_only_where_honoured(document):
    for label, operation in operations(document):
        for parameter in operation.get("parameters", ()):
            schema = parameter["schema"]
            assert not {"anyOf", "oneOf"} & set(schema), (label, parameter["name"])
            if parameter["in"] != "path":
                assert parameter.get("description"), (label, parameter["name"])
        headers = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "header"}
        honours = operation["operationId"] in HONOURS_IDEMPOTENCY_KEY
        assert ("Idempotency-Key" in headers) == honours, label
    events = dict(operations(document))["GET /api/events"]
    dates = {p["name"]: p["schema"] for p in events["parameters"] if p["name"].startswith("date")}
    assert set(dates) == {"date_from", "date_to"}
    assert dates == {
        name: {**schema, "type": "string", "format": "date"} for name, schema in dates.items()
    }


def referenced_schemas(document: dict[str, Any]) -> set[str]:
    """The component schemas that a response reaches, directly or through another schema."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()
    pending = [
        response
        for _, operation in operations(document)
        for response in operation["responses"].values()
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            name = reference.removeprefix("#/components/schemas/")
            if reference and name not in found:
                found.add(name)
                pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def is_nullable(field: dict[str, Any]) -> bool:
    return {"type": "null"} in field.get("anyOf", ())


def test_every_response_field_is_described_and_says_when_it_is_null(document):
    schemas = document["components"]["schemas"]
    reached = referenced_schemas(document)

    assert {"EventRead", "RegistrationRead", "TicketRead", "Problem"} <= reached
    for name in reached:
        for field_name, field in schemas[name].get("properties", {}).items():
            description = field.get("description", "")
            assert description, f"{name}.{field_name} is not described"
            if is_nullable(field):
                assert "null" in description.casefold(), f"{name}.{field_name}: when is it null?"
    visitors = schemas["EventRead"]["properties"]["number_of_visitors"]["description"]
    assert "provider" in visitors


def test_a_registration_and_a_waiting_entry_document_the_states_a_client_shows(document):
    schemas = document["components"]["schemas"]

    assert "locked" in schemas["RegistrationRead"]["required"]
    assert "claimed" in schemas["WaitlistStatus"]["enum"]
