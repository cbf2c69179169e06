import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app
from tests.conftest import make_settings
from tests.support.processes import child_environment, run_cli


async def _login_and_me(database_url: str, username: str, password: str) -> httpx.Response:
    application = create_app(make_settings(database_url))
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        login = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        token = login.json()["access_token"]
        return await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_createsuperuser_makes_a_staff_user_who_can_log_in(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = child_environment(DATABASE_URL=url)
    assert (await run_cli("migrate", env=env, cwd=tmp_path))[0] == 0

    code, stdout, _ = await run_cli(
        "createsuperuser",
        "--username",
        "admin",
        "--password",
        "s3cret-admin-pass",
        env=env,
        cwd=tmp_path,
    )

    assert code == 0
    assert "admin" in stdout
    me = await _login_and_me(url, "admin", "s3cret-admin-pass")
    assert me.json()["is_staff"] is True


async def test_grant_door_gives_a_user_the_door_role(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = child_environment(DATABASE_URL=url)
    await run_cli("migrate", env=env, cwd=tmp_path)
    args = ("createsuperuser", "--username", "ivan", "--password", "s3cret-door-pass")
    await run_cli(*args, env=env, cwd=tmp_path)

    granted = await run_cli("grant-door", "ivan", env=env, cwd=tmp_path)
    unknown = await run_cli("grant-door", "nobody", env=env, cwd=tmp_path)

    assert granted[0] == 0
    assert "ivan" in granted[1]
    assert unknown[0] == 1
    assert "nobody" in unknown[2]
    assert "Traceback" not in unknown[2]
    me = await _login_and_me(url, "ivan", "s3cret-door-pass")
    assert me.json()["is_door"] is True


async def test_createsuperuser_refuses_duplicates_weak_passwords_and_missing_input(tmp_path):
    env = child_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    await run_cli("migrate", env=env, cwd=tmp_path)
    args = ("createsuperuser", "--username", "admin")
    await run_cli(*args, "--password", "s3cret-admin-pass", env=env, cwd=tmp_path)

    duplicate, numeric, missing = await asyncio.gather(
        run_cli(*args, "--password", "another-pass-1", env=env, cwd=tmp_path),
        run_cli(
            "createsuperuser",
            "--username",
            "root",
            "--password",
            "12345678901",
            env=env,
            cwd=tmp_path,
        ),
        run_cli("createsuperuser", "--username", "root", env=env, cwd=tmp_path),
    )

    assert duplicate[0] == numeric[0] == missing[0] == 1
    assert "already exists" in duplicate[2]
    assert "numeric" in numeric[2]
    assert "--password" in missing[2]
    assert "Traceback" not in duplicate[2] + numeric[2] + missing[2]


def _createsuperuser_in_a_terminal(
    env: dict[str, str], cwd: Path, answers: list[tuple[str, str]], timeout: float = 60.0
) -> tuple[int, str]:
    """`createsuperuser` on a pseudo-terminal of its own (a new session: the test's terminal,
    if any, is never read), typing each answer once its prompt shows; its exit code and screen."""
    screen_fd, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "createsuperuser"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(terminal)
    deadline = time.monotonic() + timeout
    screen, shown = "", 0

    def read() -> bool:
        nonlocal screen
        ready, _, _ = select.select([screen_fd], [], [], max(deadline - time.monotonic(), 0))
        assert ready, f"no prompt within {timeout}s: {screen!r}"
        try:
            screen += os.read(screen_fd, 4096).decode()
        except OSError:  # the process is gone: Linux answers EIO
            return False
        return True

    try:
        for prompt, answer in answers:
            while screen.find(prompt, shown) < 0:
                assert read(), f"exited before {prompt!r}: {screen!r}"
            shown = screen.find(prompt, shown) + len(prompt)
            os.write(screen_fd, answer.encode() + b"\n")
        while read():
            pass
        return process.wait(timeout=timeout), screen
    finally:
        os.close(screen_fd)


async def test_createsuperuser_in_a_terminal_asks_for_the_password_twice(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = child_environment(DATABASE_URL=url)
    await run_cli("migrate", env=env, cwd=tmp_path)
    prompts = ("Username: ", "Email (optional): ", "Password: ", "Password (again): ")

    def typing(*answers: str) -> list[tuple[str, str]]:
        return list(zip(prompts, ("admin", "admin@example.com", *answers), strict=True))

    mismatch = await asyncio.to_thread(
        _createsuperuser_in_a_terminal, env, tmp_path, typing("s3cret-admin-pass", "s3cret-typo")
    )
    match = await asyncio.to_thread(
        _createsuperuser_in_a_terminal,
        env,
        tmp_path,
        typing("s3cret-admin-pass", "s3cret-admin-pass"),
    )

    assert mismatch[0] == 1
    assert "the two passwords differ; no user was created" in mismatch[1]
    assert "s3cret" not in mismatch[1]  # not echoed
    assert match[0] == 0, match[1]
    assert "staff user admin created" in match[1]
    me = await _login_and_me(url, "admin", "s3cret-admin-pass")
    assert me.json()["is_staff"] is True
