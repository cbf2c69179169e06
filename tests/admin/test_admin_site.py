"""The admin site: staff only, with events-face credentials."""

import html
import re
import uuid
from collections import Counter
from datetime import timedelta
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.core.database import Database, utcnow
from app.outbox.models import OutboxMessage
from app.registrations.models import Registration, WaitlistEntry
from app.sync.models import SyncRun
from app.tickets.models import CheckinScan
from tests.conftest import client_of, database_of
from tests.support.auth import admin_login, make_staff, register
from tests.support.events import event_with_seats
from tests.support.notifications import new_ids, seed_messages
from tests.support.visitors import sign_in, visitor

PROVIDER = "https://provider.example/api/events/"


@pytest.fixture
async def client(app):
    """The admin site works in sessions of its own: its tests need committed data."""
    async with client_of(app) as http:
        yield http


async def test_admin_without_a_session_redirects_to_its_login(client):
    response = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code in (302, 303, 307)
    assert "/admin/login" in response.headers["location"]


async def test_a_user_who_is_not_staff_cannot_log_in(client):
    await register(client, "ivan")

    response = await admin_login(client, "ivan")
    listing = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code == 400
    assert listing.status_code != 200


async def test_a_wrong_password_cannot_log_in(client, app):
    await register(client, "admin")
    await make_staff(database_of(app), "admin")

    response = await admin_login(client, "admin", "not-the-password")

    assert response.status_code == 400


async def test_staff_see_users_events_venues_and_sync_runs(client, app):
    await register(client, "admin")
    await register(client, "ivan.petrov")
    await make_staff(database_of(app), "admin")
    async with database_of(app).transaction() as work:
        work.session.add(SyncRun(mode="all", source=PROVIDER, status="success"))

    login = await admin_login(client, "admin")
    pages = {
        name: await client.get(f"/admin/{name}/list")
        for name in ("user", "venue", "event", "sync-run")
    }

    assert login.status_code == 302
    assert all(page.status_code == 200 for page in pages.values()), {
        name: page.status_code for name, page in pages.items()
    }
    assert "ivan.petrov" in pages["user"].text
    assert "password_hash" not in pages["user"].text
    assert PROVIDER in pages["sync-run"].text


async def test_a_staff_session_ends_when_the_user_loses_staff(client, app):
    await register(client, "admin")
    await make_staff(database_of(app), "admin")
    await admin_login(client, "admin")
    async with database_of(app).transaction() as work:
        await work.session.execute(update(User).values(is_staff=False))

    response = await client.get("/admin/user/list", follow_redirects=False)

    assert response.status_code != 200


async def test_staff_requeue_dead_outbox_messages_and_never_see_their_text(client, app):
    dead, pending = new_ids(2)
    await seed_messages(database_of(app), [dead, pending])
    await _kill(database_of(app), [dead])
    await _log_in_as_staff(client, app)

    listing = await client.get("/admin/outbox-message/list")
    details = await client.get(f"/admin/outbox-message/details/{dead}")
    requeue = await client.get(
        "/admin/outbox-message/action/requeue",
        params={"pks": f"{dead},{pending}"},
        follow_redirects=False,
    )
    after = await client.get(requeue.headers["location"])
    async with database_of(app).transaction() as work:
        rows = (
            await work.session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
            )
        ).all()

    assert listing.status_code == details.status_code == 200
    assert "Сообщение" not in listing.text + details.text
    assert requeue.status_code == 302
    assert set(rows) == {(uuid.UUID(dead), "pending", 0), (uuid.UUID(pending), "pending", 0)}
    assert (
        "Requeued 1 dead message; 1 selected message was not dead and was left alone" in after.text
    )


async def test_requeue_says_what_it_did_when_every_message_was_dead(client, app):
    dead = new_ids(3)
    await seed_messages(database_of(app), dead)
    await _kill(database_of(app), dead)
    await _log_in_as_staff(client, app)

    requeue = await client.get(
        "/admin/outbox-message/action/requeue",
        params={"pks": ",".join(dead)},
        follow_redirects=True,
    )

    assert requeue.status_code == 200  # the list it leads back to
    assert "Requeued 3 dead messages" in requeue.text
    assert "left alone" not in requeue.text


async def test_requeue_is_offered_only_where_every_message_shown_is_dead(client, app):
    dead, sent = new_ids(2)
    await seed_messages(database_of(app), [dead, sent])
    await _kill(database_of(app), [dead])
    async with database_of(app).transaction() as work:
        await work.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == uuid.UUID(sent)).values(status="sent")
        )
    await _log_in_as_staff(client, app)

    pages = {
        "a dead message": f"/admin/outbox-message/details/{dead}",
        "a sent message": f"/admin/outbox-message/details/{sent}",
        "the dead messages": "/admin/outbox-message/list?status=dead",
        "every message": "/admin/outbox-message/list",
    }
    offered = {
        name
        for name, path in pages.items()
        if "modal-confirmation-requeue" in (await client.get(path)).text
    }

    assert offered == {"a dead message", "the dead messages"}


def figures(home_page: str) -> dict[str, int]:
    """The home page's figures, by label."""
    pattern = r'<div class="subheader">([^<]+)</div>\s*<div class="h1[^"]*">(\d+)</div>'
    return {label: int(count) for label, count in re.findall(pattern, home_page)}


async def test_the_home_page_counts_what_an_operator_looks_at(client, app):
    database = database_of(app)
    event = await event_with_seats(database, seats=10)
    await event_with_seats(database, seats=10)
    visitor_session = await sign_in(client, "ivan")
    registrations = [
        (await visitor_session.register(event.id, visitor(n))).json()["id"] for n in range(4)
    ]
    now = utcnow()
    confirmed, lapsed, cancelled, _holding = registrations
    await _change_registration(database, confirmed, stored_status="confirmed", confirmed_at=now)
    await _change_registration(database, lapsed, expires_at=now - timedelta(minutes=1))
    await _change_registration(database, cancelled, stored_status="cancelled", cancelled_at=now)
    await _join_the_waiting_list(database, event.id, "ivan", ["waiting", "waiting", "left"])
    async with database.transaction() as work:
        a_notice = await work.session.scalar(select(OutboxMessage.id).limit(1))
    await _kill(database, [str(a_notice)])
    async with database.transaction() as work:
        work.session.add_all(
            [
                SyncRun(mode="all", source=PROVIDER, status="success", started_at=now),
                SyncRun(
                    mode="incremental",
                    source=PROVIDER,
                    status="failed",
                    error="the provider answered 503",
                    started_at=now + timedelta(seconds=1),
                ),
            ]
        )
    await _log_in_as_staff(client, app)

    home = await client.get("/admin/")

    assert home.status_code == 200
    assert figures(home.text) == {
        "Events": 2,
        "Open registrations": 2,  # the confirmed one and the hold still running
        "Waiting": 2,
        "Outbox backlog": 3,  # the four code notices, but the dead one
        "Dead messages": 1,
    }
    assert "failed" in home.text
    assert "the provider answered 503" in home.text


async def test_a_staff_user_can_follow_every_link_of_the_admin(client, app):
    """Like a browser: from the home page, every same-origin link and asset of every page
    (but those that change something) answers below 400, and none points to another host."""
    await _a_row_in_every_table(client, database_of(app))
    await _log_in_as_staff(client, app)

    visited, external = await _crawl(client, "http://testserver/admin/")

    assert not {url: status for url, status in visited.items() if status >= 400}
    assert not external
    paths = {urlsplit(url).path for url in visited}
    for view in ("user", "venue", "event", "registration", "waitlist-entry", "checkin-scan"):
        assert f"/admin/{view}/list" in paths
        assert any(path.startswith(f"/admin/{view}/details/") for path in paths), view
    assert any(path.startswith("/admin/statics/") for path in paths)


# Links a crawl leaves alone: they change something (the session, or the data).
CHANGES_SOMETHING = re.compile(r"/admin/(logout|[^/]+/action/)")
LINK = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)""")
MAX_PAGES = 400
VARIANTS_OF_A_PATH = 8  # sorts, page sizes, filters: a few of each list's links are enough


async def _crawl(client: httpx.AsyncClient, start: str) -> tuple[dict[str, int], set[str]]:
    """What every URL reachable from `start` answered, and the other hosts' URLs referenced
    (by a page, or by a style sheet: a browser fetches the fonts of those only when a page uses
    them, and sqladmin's Font Awesome names one it does not ship, used by none of its pages)."""
    visited: dict[str, int] = {}
    external: set[str] = set()
    variants: Counter[str] = Counter()
    queue = [start]
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in visited or variants[path] >= VARIANTS_OF_A_PATH:
            continue
        assert len(visited) < MAX_PAGES, "the crawl does not end"
        variants[path] += 1
        response = await client.get(url, follow_redirects=True)
        visited[url] = response.status_code
        content_type = response.headers.get("content-type", "")
        if "html" in content_type:
            links = [
                urldefrag(urljoin(url, html.unescape(link))).url
                for link in LINK.findall(response.text)
            ]
            queue.extend(link for link in links if _is_ours(link) and not _changes(link))
        elif "css" in content_type:
            links = [urljoin(url, link) for link in CSS_URL.findall(response.text)]
        else:
            links = []
        external.update(link for link in links if not _is_ours(link))
    return visited, external


def _is_ours(link: str) -> bool:
    return link.startswith("data:") or urlsplit(link).netloc == "testserver"


def _changes(link: str) -> bool:
    return bool(CHANGES_SOMETHING.search(link))


async def _log_in_as_staff(client: httpx.AsyncClient, app, username: str = "admin") -> None:
    await register(client, username)
    await make_staff(database_of(app), username)
    assert (await admin_login(client, username)).status_code == 302


async def _kill(database: Database, message_ids: list[str]) -> None:
    async with database.transaction() as work:
        await work.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([uuid.UUID(message_id) for message_id in message_ids]))
            .values(status="dead", attempts=20, last_error="HTTP 503")
        )


async def _change_registration(database: Database, registration_id: str, **values) -> None:
    async with database.transaction() as work:
        await work.session.execute(
            update(Registration)
            .where(Registration.id == uuid.UUID(registration_id))
            .values(**values)
        )


async def _join_the_waiting_list(
    database: Database, event_id: uuid.UUID, username: str, statuses: list[str]
) -> None:
    async with database.transaction() as work:
        user_id = await work.session.scalar(select(User.id).where(User.username == username))
        for n, status in enumerate(statuses):
            email = f"waiting{n}@example.com"
            work.session.add(
                WaitlistEntry(
                    event_id=event_id,
                    user_id=user_id,
                    full_name=f"Ожидающий {n}",
                    email=email,
                    email_key=email,
                    stored_status=status,
                )
            )


async def _a_row_in_every_table(client: httpx.AsyncClient, database: Database) -> None:
    event = await event_with_seats(database, seats=10)
    visitor_session = await sign_in(client, "ivan")
    registration = (await visitor_session.register(event.id, visitor())).json()["id"]
    await _join_the_waiting_list(database, event.id, "ivan", ["waiting"])
    async with database.transaction() as work:
        work.session.add_all(
            [
                CheckinScan(
                    event_id=event.id,
                    registration_id=uuid.UUID(registration),
                    result="ok",
                    scanned_at=utcnow(),
                    checked_in_at=utcnow(),
                ),
                SyncRun(mode="all", source=PROVIDER, status="success"),
            ]
        )
