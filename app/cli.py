"""The `events-face` console script."""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable

from pydantic import ValidationError

from app.auth.schemas import RegisterRequest
from app.auth.service import AuthService
from app.core.config import ConfigurationError, Settings, load_settings
from app.core.database import create_engine, create_session_factory
from app.core.errors import AppError
from app.core.logging import configure_logging
from app.core.migrations import upgrade_to_head
from app.core.passwords import PasswordHasher
from app.core.security import TokenCodec

GRACEFUL_SHUTDOWN_SECONDS = 20


def _fail(message: str) -> int:
    print(f"events-face: {message}", file=sys.stderr)
    return 1


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if not args.no_migrate:
        upgrade_to_head(settings.database_url)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        log_config=None,  # our root handler formats uvicorn's records too
        access_log=False,  # app.access logs each request with its request id instead
        proxy_headers=False,  # trusted proxies are handled by the app (TRUSTED_PROXIES)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


def migrate(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade_to_head(settings.database_url)
    print("migrations applied")
    return 0


def _ask(value: str | None, prompt: str, *, secret: bool = False) -> str | None:
    if value or not sys.stdin.isatty():
        return value
    return getpass.getpass(prompt) if secret else input(prompt)


def createsuperuser(args: argparse.Namespace, settings: Settings) -> int:
    username = _ask(args.username, "Username: ")
    email = _ask(args.email, "Email (optional): ")
    password = _ask(args.password, "Password: ", secret=True)
    if not username or not password:
        return _fail("--username and --password are required when not run in a terminal")
    try:
        data = RegisterRequest(username=username, password=password, email=email or None)
    except ValidationError as error:
        return _fail("; ".join(item["msg"] for item in error.errors()))
    return asyncio.run(_create_staff_user(settings, data))


async def _create_staff_user(settings: Settings, data: RegisterRequest) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            service = AuthService(
                session,
                settings,
                TokenCodec(settings.secret_key, settings.jwt_issuer),
                PasswordHasher(),
            )
            user = await service.create_staff_user(data.username, data.email, data.password)
    except AppError as error:
        return _fail(error.detail)
    finally:
        await engine.dispose()
    print(f"staff user {user.username} created")
    return 0


Command = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="events-face", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="apply migrations, then serve HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--no-migrate", action="store_true", help="skip migrations")
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help="apply migrations and exit").set_defaults(handler=migrate)

    user_parser = commands.add_parser("createsuperuser", help="create a staff user")
    user_parser.add_argument("--username")
    user_parser.add_argument("--email")
    user_parser.add_argument("--password")
    user_parser.set_defaults(handler=createsuperuser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        return _fail(str(error))
    configure_logging(settings.log_format, settings.log_level)
    handler: Command = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
