"""The admin site at /admin (sqladmin), for staff users."""

from fastapi import FastAPI
from sqladmin import Admin
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.admin.auth import StaffAuthentication
from app.admin.views import VIEWS


def mount_admin(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Mounts the site; returns its session maker, to be bound to the engine in the lifespan
    (sqladmin wants one at mount time, and the engine only exists once the app starts)."""
    session_maker = async_sessionmaker(class_=AsyncSession, expire_on_commit=False)
    admin = Admin(
        app,
        session_maker=session_maker,
        base_url="/admin",
        title="events-face admin",
        authentication_backend=StaffAuthentication(app.state.settings, app.state),
    )
    for view in VIEWS:
        admin.add_view(view)
    return session_maker
