"""The admin site at /admin (sqladmin), for staff users."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from sqladmin import Admin
from sqladmin.authentication import login_required
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from app.admin.auth import StaffAuthentication
from app.admin.dashboard import read_dashboard
from app.admin.views import VIEWS
from app.container import Container
from app.core.config import Settings
from app.core.database import utcnow
from app.dependencies import container_of

ADMIN_PATH = "/admin"
TEMPLATES = Path(__file__).parent / "templates"


class EventsFaceAdmin(Admin):
    @login_required
    async def index(self, request: Request) -> Response:
        """The home page: what an operator looks at first, each figure linked to its list."""
        async with container_of(request.app).database.transaction() as work:
            dashboard = await read_dashboard(work.session, utcnow())
        context = {"dashboard": dashboard, "title": "Overview"}
        return await self.templates.TemplateResponse(request, "dashboard.html", context)


def mount_admin(app: FastAPI, settings: Settings) -> Admin:
    """Mounts the site at /admin/ (and /admin, which leads there); `bind_admin` completes it
    once the app has started."""
    admin = EventsFaceAdmin(
        app,
        # sqladmin wants a session maker now; it is bound to the engine in bind_admin.
        session_maker=async_sessionmaker(class_=AsyncSession, expire_on_commit=False),
        base_url=ADMIN_PATH,
        title="events-face admin",
        favicon_url="/favicon.ico",
        templates_dir=str(TEMPLATES),
        authentication_backend=StaffAuthentication(settings),
    )
    for view in VIEWS:
        admin.add_view(view)

    @app.get(ADMIN_PATH, include_in_schema=False)
    async def to_the_admin_site(request: Request) -> RedirectResponse:
        return RedirectResponse(request.url_for("admin:index"))

    return admin


def bind_admin(admin: Admin, container: Container) -> None:
    """What only exists once the app starts: the engine for the views' own sessions, and the
    container for the login and the actions (which run in units of work of ours). The site is a
    Starlette app of its own, so its requests find the container on its state."""
    admin.session_maker.configure(bind=container.database.engine)
    admin.admin.state.container = container
