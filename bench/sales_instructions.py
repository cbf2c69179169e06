"""Instructions a registration costs when sales open, counted by valgrind's callgrind: a 201,
and a 409 for an event the process knows full, each one request at a time.

    ./scripts/uv run --frozen python -m bench.sales_instructions [--requests 150]

Builds `bench.sales`'s template (in `salesinstrbench`), then for each case runs the app in a
process of its own under `valgrind --tool=callgrind --instr-atstart=no`, on a fresh copy of
the template: the lifespan starts, 640 registrations fill the warm-up event (which the process
then knows full), and only then is counting switched on (`callgrind_control -i on`) for
--requests requests sent straight into the ASGI app: no server, no client, the same code that
`events-face serve` runs from the HTTP parser on. Needs valgrind
(`apt-get install -y valgrind`). Unlike requests per second on a shared machine, the count
repeats within a few percent.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import uvloop

from app.core.security import TokenCodec, TokenType
from bench import sales
from bench.load import bench_environment
from bench.system import require_bench_database

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/salesinstrbench"
CASES = {"registered (201)": "201", "known full (409)": "409"}
TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


def asgi_requests(
    codec: TokenCodec, users: list[uuid.UUID], event: uuid.UUID, label: str
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each user's registration for `event` as an ASGI scope and body."""
    for n, user in enumerate(users):
        token, _ = codec.encode(str(user), TokenType.ACCESS, 3600)
        body = orjson.dumps({"full_name": f"Посетитель {n}", "email": f"{label}-{n}@example.com"})
        path = f"/api/events/{event}/register"
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        yield scope, body


async def answer(app: Any, scope: dict[str, Any], body: bytes) -> int:
    """What `app` answers the request (its status), as uvicorn would hand it over."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


def callgrind(switch: str) -> None:
    control = [str(shutil.which("callgrind_control")), "-i", switch, str(os.getpid())]
    subprocess.run(control, check=True, capture_output=True)  # noqa: S603


async def counted(case: str, requests: int) -> None:
    """Under valgrind: warm up, then count `requests` requests of `case`."""
    from app.main import create_app

    app = create_app()
    codec = TokenCodec(os.environ["JWT_SECRET_KEY"], sales.ISSUER)
    users = sales.user_ids(sales.WARM_UP + requests)
    async with app.router.lifespan_context(app):
        for scope, body in asgi_requests(codec, users[: sales.WARM_UP], sales.WARM, "warm-up"):
            await answer(app, scope, body)
        event = sales.SEQUENTIAL if case == "201" else sales.WARM
        batch = list(asgi_requests(codec, users[sales.WARM_UP :], event, case))
        callgrind("on")
        statuses = [await answer(app, scope, body) for scope, body in batch]
        callgrind("off")
    if set(statuses) != {int(case)}:
        raise SystemExit(f"expected only {case}s, got {sorted(set(statuses))}")


def count(case: str, args: argparse.Namespace) -> float:
    """Instructions per request of `case`, in a fresh process under callgrind."""
    runner = asyncio.Runner()
    runner.run(sales.fresh_copy(args.database_url))
    runner.close()
    with tempfile.TemporaryDirectory(prefix="sales-instructions-") as directory:
        out = Path(directory) / "callgrind.out"
        env = {**os.environ, **bench_environment(args.database_url)}
        subprocess.run(  # noqa: S603
            [
                str(shutil.which("valgrind")),
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.sales_instructions",
                "--counted",
                case,
                "--requests",
                str(args.requests),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        total = sum(int(found[1]) for found in TOTALS.finditer(out.read_text()))
    return total / args.requests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=150, help="counted per case (≤ 300)")
    parser.add_argument("--counted", choices=sorted(CASES.values()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted:
        uvloop.run(counted(args.counted, args.requests))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install -y valgrind")
    if not 0 < args.requests <= sales.ONE_AT_A_TIME:
        parser.error(f"--requests: 1 to {sales.ONE_AT_A_TIME}")
    require_bench_database(args.database_url)
    template = argparse.Namespace(users=sales.WARM_UP + args.requests + 1000, seats=1000)
    runner = asyncio.Runner()
    sales.build_template(runner, sales.template_url(args.database_url), template)
    runner.close()
    for label, case in CASES.items():
        print(f"{label}: {count(case, args) / 1e6:.2f} M instructions a request", flush=True)


if __name__ == "__main__":
    main()
