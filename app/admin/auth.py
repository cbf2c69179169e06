"""Staff-only access to the admin site, with events-face credentials, in a signed cookie."""

import hashlib
import hmac
import uuid

from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request

from app.auth.dependencies import auth_service
from app.auth.errors import InvalidCredentialsError
from app.core.config import Environment, Settings
from app.dependencies import container_of

SESSION_KEY = "staff_user_id"


def _cookie_secret(settings: Settings) -> str:
    # A key of its own, derived from the JWT key, so a cookie can never pass for a token.
    return hmac.new(settings.secret_key.encode(), b"admin-session", hashlib.sha256).hexdigest()


class StaffAuthentication(AuthenticationBackend):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            secret_key=_cookie_secret(settings),
            session_cookie="events_face_admin",
            same_site="strict",
            https_only=settings.environment is Environment.PRODUCTION,
            max_age=8 * 3600,
        )

    async def login(self, request: Request) -> bool:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        container = container_of(request.app)
        async with container.database.transaction() as work:
            try:
                user = await auth_service(container, work).authenticate(username, password)
            except InvalidCredentialsError:
                return False
        if not user.is_staff:
            return False
        request.session.update({SESSION_KEY: str(user.id)})
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        user_id = request.session.get(SESSION_KEY)
        if not user_id:
            return False
        container = container_of(request.app)
        async with container.database.transaction() as work:
            user = await auth_service(container, work).get_active_user(uuid.UUID(user_id))
        return user is not None and user.is_staff
