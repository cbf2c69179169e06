"""The errors of a visitor's own data, each with its own problem type."""

from app.core.errors import UnauthorizedError


class WrongPasswordError(UnauthorizedError):
    """The password given to erase the account is not its password: nothing was changed."""

    slug = "wrong-password"
    detail_text = "The password is not the account's password; nothing was erased."
