"""Text a client sends, checked for what the database cannot store.

PostgreSQL's text refuses NUL (U+0000), and a lone surrogate (U+D800–U+DFFF, which a JSON
`\\ud800` escape carries) has no UTF-8 form: either would fail the statement and answer a 500.
Every string a request carries to the database is annotated `STORABLE_TEXT`, so that such a
value is a 422 naming its field, on SQLite as on PostgreSQL. It is a check of the field rather
than a pass over each request: a field that is absent costs nothing, one that is present one
regular-expression search.
"""

import re

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_ERROR = "string_unstorable_character"


def _name_of(character: str) -> str:
    if character == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(character):04X})"


def refuse_unstorable(value: object) -> object:
    """Passes a string the database can store (and any other value, for the field's own type
    to judge); refuses one it cannot, naming the first such character."""
    if isinstance(value, str) and (found := UNSTORABLE.search(value)):
        raise PydanticCustomError(
            UNSTORABLE_ERROR,
            "String should not contain {character}",
            {"character": _name_of(found.group())},
        )
    return value


# Last in the field's `Annotated[str, ...]`: after its length and pattern constraints, so that
# pydantic still applies those to the string itself (with their own messages and schema), while
# this check runs first.
STORABLE_TEXT = BeforeValidator(refuse_unstorable)
