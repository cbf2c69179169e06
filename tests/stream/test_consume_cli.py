"""`events-face consume`: the stream consumer alone, as a real process, on both databases."""

import asyncio
import signal
import sys
import uuid

from app.events.models import Event
from app.sync.generator import generate_events
from tests.stream.conftest import REDIS_URL, eventually, pending, publish
from tests.support.processes import run_cli, service_environment, stop


async def test_consume_applies_the_stream_and_stops_cleanly_on_sigterm(
    database_url, redis, topic, database, tmp_path
):
    env = service_environment(database_url, BROKER_URL=REDIS_URL, PROVIDER_EVENTS_TOPIC=topic)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "consume",
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    [event] = generate_events(1, seed=60)

    async def stored():
        async with database.transaction() as work:
            return await work.session.get(Event, uuid.UUID(event["id"]))

    try:
        await publish(redis, topic, event)
        assert (await eventually(stored)).name == event["name"]
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await stop(process)
    assert process.returncode == 0
    assert "stream consumer stopped" in stderr.decode()
    assert await pending(redis, topic) == 0


async def test_consume_refuses_to_start_without_a_broker(tmp_path):
    env = service_environment("sqlite+aiosqlite:///./unused.db", BROKER_URL="")
    code, _, stderr = await run_cli("consume", env=env, cwd=tmp_path)
    assert (code, stderr.strip()) == (
        1,
        "events-face: BROKER_URL is not set: there is no stream to consume",
    )
