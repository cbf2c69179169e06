"""Local mode's notices (SPEC §3): in development with no NOTIFICATIONS_URL the relay writes each
notice, code included, to the log instead of sending it, so that a registration can be
confirmed with no notification service."""

import re

from tests.conftest import client_of, database_of, make_settings, running_app
from tests.support.auth import access_token, bearer
from tests.support.events import create_event
from tests.support.notifications import eventually

CODE = re.compile(r"\b(\d{6})\b")


async def test_the_code_is_written_to_the_log_and_confirms_the_registration(database_url, caplog):
    settings = make_settings(
        database_url,
        environment="development",
        notifications_url=None,
        outbox_relay_enabled=True,
        outbox_poll_interval_seconds=0.05,
    )
    async with running_app(settings) as app, client_of(app) as http:
        headers = bearer(await access_token(http))
        event = await create_event(database_of(app))
        registration = (
            await http.post(
                f"/api/events/{event.id}/register",
                json={"full_name": "Иван Петров", "email": "ivan@example.com"},
                headers=headers,
            )
        ).json()

        def notices() -> list[str]:
            return [
                record.getMessage()
                for record in caplog.records
                if record.name == "app.notices" and "ivan@example.com" in record.getMessage()
            ]

        await eventually(notices)
        [notice] = notices()
        code = CODE.search(notice)
        assert code, notice
        confirmed = await http.post(
            f"/api/registrations/{registration['id']}/confirm",
            json={"code": code.group(1)},
            headers=headers,
        )
        url = f"/api/registrations/{registration['id']}"

        async def confirmed_notice_written() -> bool:
            shown = await http.get(url, headers=headers)
            return shown.json()["notification_status"] == "sent"

        await eventually(confirmed_notice_written)
        confirmed_notice = notices()[-1]

    assert notice.startswith("notice to ivan@example.com: Здравствуйте, Иван Петров!")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    assert "подтверждена" in confirmed_notice
    assert f"http://testserver/api/registrations/{registration['id']}/ticket" in confirmed_notice
