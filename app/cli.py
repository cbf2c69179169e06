"""The `events-face` console script."""

import argparse
import asyncio
import getpass
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import date

from pydantic import ValidationError

from app.auth.dependencies import auth_service
from app.auth.schemas import RegisterRequest
from app.container import open_container
from app.core.config import ConfigurationError, Settings, load_settings
from app.core.errors import AppError
from app.core.logging import configure_logging
from app.core.migrations import upgrade_to_head
from app.events.service import Catalogue
from app.jobs import Job, start_jobs
from app.outbox.service import OutboxService
from app.sync.models import RunStatus
from app.sync.service import SyncMode, summary

GRACEFUL_SHUTDOWN_SECONDS = 20
# Longer than a load balancer keeps an idle connection to us (60 s for most cloud ones), so
# that it, not we, closes idle connections: a request it sends on one we are closing fails.
KEEP_ALIVE_SECONDS = 75


def _fail(message: str) -> int:
    print(f"events-face: {message}", file=sys.stderr)
    return 1


def _exit_successfully(_signal_number: int, _frame: object) -> None:
    raise SystemExit(0)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if not args.no_migrate:
        upgrade_to_head(settings.database_url)
    from app.main import app  # its logging and garbage collector are set up on import

    # uvicorn handles SIGTERM and SIGINT itself (the app drains first: app/core/shutdown.py)
    # and, once it has stopped gracefully, raises the signal again for the handler that was
    # there before it; that handler is this one, so a signalled stop exits 0.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, _exit_successfully)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # our root handler formats uvicorn's records too
        access_log=False,  # app.access logs each request with its request id instead
        proxy_headers=False,  # trusted proxies are handled by the app (TRUSTED_PROXIES)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


def migrate(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade_to_head(settings.database_url)
    print("migrations applied")
    return 0


def _should_ask(value: str | None) -> bool:
    """Whether to ask for `value`: it was not given, and someone can answer."""
    return not value and sys.stdin.isatty()


def _ask(value: str | None, prompt: str) -> str | None:
    return input(prompt) if _should_ask(value) else value


def createsuperuser(args: argparse.Namespace, settings: Settings) -> int:
    username = _ask(args.username, "Username: ")
    email = _ask(args.email, "Email (optional): ")
    password = args.password
    if _should_ask(password):
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            return _fail("the two passwords differ; no user was created")
    if not username or not password:
        return _fail(
            "a username and a password are required "
            "(--username and --password when not run in a terminal)"
        )
    try:
        data = RegisterRequest(username=username, password=password, email=email or None)
    except ValidationError as error:
        return _fail("; ".join(item["msg"] for item in error.errors()))
    return asyncio.run(_create_staff_user(settings, data))


async def _create_staff_user(settings: Settings, data: RegisterRequest) -> int:
    try:
        async with open_container(settings) as container, container.database.transaction() as work:
            user = await auth_service(container, work).create_staff_user(
                data.username, data.email, data.password
            )
    except AppError as error:
        return _fail(error.detail)
    print(f"staff user {user.username} created")
    return 0


def grant_door(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_grant_door(settings, args.username))


async def _grant_door(settings: Settings, username: str) -> int:
    async with open_container(settings) as container, container.database.transaction() as work:
        user = await auth_service(container, work).grant_door(username)
    if user is None:
        return _fail(f"no user is called {username!r}")
    print(f"{user.username} may now scan tickets at the door")
    return 0


def sync_events(args: argparse.Namespace, settings: Settings) -> int:
    if args.all and args.date:
        return _fail("--all and --date exclude each other")
    mode = SyncMode.ALL if args.all else SyncMode.DATE if args.date else SyncMode.INCREMENTAL
    return asyncio.run(_sync_events(settings, mode, args.date))


async def _sync_events(settings: Settings, mode: SyncMode, on_date: date | None) -> int:
    async with open_container(settings) as container:
        run = await container.sync.run(mode, on_date)
    if run is None:
        print("sync skipped: another run holds the lease")
        return 0
    print(f"sync run {run.id} {run.status}: {summary(run)}")
    return 0 if run.status == RunStatus.SUCCESS else 1


def cleanup_events(args: argparse.Namespace, settings: Settings) -> int:
    days = settings.event_retention_days if args.days is None else args.days
    return asyncio.run(_cleanup_events(settings, days))


async def _cleanup_events(settings: Settings, days: int) -> int:
    async with open_container(settings) as container, container.database.transaction() as work:
        deleted = await Catalogue(work, container.catalogue_version).delete_ended(days)
    print(f"deleted {deleted} events that ended more than {days} days ago")
    return 0


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    return stopping


async def _run_job_until_stopped(settings: Settings, job: Job) -> int:
    """One background job alone, until SIGINT or SIGTERM; on the way out its work in flight
    finishes (relay sends, stream messages) and what it claimed is handed back."""
    stopping = _stop_on_signals()
    async with open_container(settings) as container:
        start_jobs(container, [job])
        await stopping.wait()
    return 0


def worker(_args: argparse.Namespace, settings: Settings) -> int:
    """The outbox relay alone."""
    return asyncio.run(_run_job_until_stopped(settings, Job.OUTBOX_RELAY))


def consume(_args: argparse.Namespace, settings: Settings) -> int:
    """The consumer of the provider's change stream alone."""
    if not settings.broker_url:
        return _fail("BROKER_URL is not set: there is no stream to consume")
    return asyncio.run(_run_job_until_stopped(settings, Job.STREAM_CONSUMER))


def outbox_requeue(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_outbox_requeue(settings, args.id))


async def _outbox_requeue(settings: Settings, ids: list[uuid.UUID] | None) -> int:
    async with open_container(settings) as container, container.database.transaction() as work:
        count = await OutboxService(work).requeue_dead(ids)
    print(f"requeued {count} dead outbox messages")
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}")
    return int(text)


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

    sync_parser = commands.add_parser("sync-events", help="one sync run from events-provider")
    sync_parser.add_argument("--all", action="store_true", help="every event, not only changes")
    sync_parser.add_argument("--date", type=_iso_date, help="events changed on or after YYYY-MM-DD")
    sync_parser.set_defaults(handler=sync_events)

    cleanup_parser = commands.add_parser("cleanup-events", help="delete events long past")
    cleanup_parser.add_argument(
        "--days", type=_days, help="that ended more than N days ago (default EVENT_RETENTION_DAYS)"
    )
    cleanup_parser.set_defaults(handler=cleanup_events)

    commands.add_parser("worker", help="run the outbox relay alone").set_defaults(handler=worker)

    commands.add_parser(
        "consume", help="apply the provider's change stream (BROKER_URL) alone"
    ).set_defaults(handler=consume)

    requeue_parser = commands.add_parser("outbox-requeue", help="retry dead outbox messages")
    requeue_parser.add_argument(
        "--id", type=uuid.UUID, action="append", help="only this message (repeatable); all if none"
    )
    requeue_parser.set_defaults(handler=outbox_requeue)

    user_parser = commands.add_parser("createsuperuser", help="create a staff user")
    user_parser.add_argument("--username")
    user_parser.add_argument("--email")
    user_parser.add_argument("--password")
    user_parser.set_defaults(handler=createsuperuser)

    door_parser = commands.add_parser(
        "grant-door", help="let a user scan tickets at the door (and nothing else)"
    )
    door_parser.add_argument("username")
    door_parser.set_defaults(handler=grant_door)
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
