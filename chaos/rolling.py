"""A rolling restart behind HAProxy: deploy/haproxy.cfg in front of two `events-face serve`
replicas on PostgreSQL, steady load through it with wrk, while each replica in turn gets
SIGTERM, exits and is started again. Counts the requests that failed (non-2xx answers and
socket errors) with the shipped configuration, with HAProxy's retries off, and, as the
control, with retries off and no drain (the listener closes at SIGTERM)."""

import csv
import io
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.system import stop
from chaos.common import ROOT, events_face, markdown_table, wait_until_answers
from tests.support.processes import free_port, service_environment

HAPROXY_CONFIG = ROOT / "deploy/haproxy.cfg"
WRK_SCRIPT = ROOT / "bench/wrk.lua"
LOAD_PATH = "/api/events"
WRK_CONNECTIONS = 16
USERNAME, PASSWORD = "chaos-user", "chaos-password-1"
LEAD_SECONDS = 3  # load before the first restart, between the two, and after the second
UP_TIMEOUT = 60.0
# wrk runs until the restarts are done and is then interrupted (it prints its totals on SIGINT)
LONGEST_LOAD = "600s"


@dataclass(frozen=True)
class Setup:
    label: str
    retries: int
    drain_seconds: float


SETUPS = (
    Setup("deploy/haproxy.cfg as shipped (2 retries)", retries=2, drain_seconds=5),
    Setup("retries off (HAPROXY_RETRIES=0)", retries=0, drain_seconds=5),
    Setup("control: retries off, no drain (SHUTDOWN_DRAIN_SECONDS=0)", retries=0, drain_seconds=0),
)


@dataclass(frozen=True)
class Figures:
    setup: Setup
    requests: int
    failed: int
    load_seconds: float
    exit_codes: tuple[int, ...]
    stop_seconds: tuple[float, ...]


class Replica:
    def __init__(self, url: str, drain_seconds: float, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.environment = service_environment(
            url,
            SHUTDOWN_DRAIN_SECONDS=str(drain_seconds),
            RATE_LIMIT_AUTH="1000000/minute",
            LOG_LEVEL="WARNING",
        )
        self.process = self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> subprocess.Popen[bytes]:
        process = events_face(
            "serve", "--no-migrate", "--port", str(self.port), env=self.environment, log=self.log
        )
        wait_until_answers(f"http://{self.address}/health/ready", process)
        return process

    def restart(self) -> tuple[int, float]:
        """SIGTERM, then a new process once the old one has exited: its exit code and how
        long it took to stop."""
        signalled = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        stopped = time.monotonic() - signalled
        self.process = self.start()
        return code, stopped


class HAProxy:
    def __init__(self, replicas: list[Replica], retries: int, log: Path) -> None:
        self.port, self.stats_port = free_port(), free_port()
        environment = {
            **os.environ,
            "APP1_ADDR": replicas[0].address,
            "APP2_ADDR": replicas[1].address,
            "HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "HAPROXY_STATS_BIND": f"127.0.0.1:{self.stats_port}",
            "HAPROXY_RETRIES": str(retries),
        }
        with log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603
                ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)],  # noqa: S607
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def servers_up(self) -> set[str]:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv").text
        except httpx.TransportError:
            return set()
        rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
        return {
            row["svname"]
            for row in rows
            if row["pxname"] == "events_face" and row["status"] == "UP"
        }

    def wait_until_up(self, *names: str) -> None:
        deadline = time.monotonic() + UP_TIMEOUT
        while not set(names) <= self.servers_up():
            if time.monotonic() > deadline:
                raise SystemExit(f"HAProxy did not see {names} up within {UP_TIMEOUT} s")
            time.sleep(0.1)


def token_through(url: str) -> str:
    body = {"username": USERNAME, "password": PASSWORD}
    response = httpx.post(f"{url}/api/auth/login", json=body)
    if response.status_code == 401:
        response = httpx.post(f"{url}/api/auth/register", json=body)
    response.raise_for_status()
    return str(response.json()["access_token"])


def start_load(url: str, token: str) -> subprocess.Popen[str]:
    """wrk against `url` until interrupted; bench/wrk.lua prints its totals as one JSON line."""
    command = ["wrk", "-t2", f"-c{WRK_CONNECTIONS}", f"-d{LONGEST_LOAD}", "--timeout=10s"]
    command += ["-s", str(WRK_SCRIPT), url + LOAD_PATH]
    return subprocess.Popen(  # noqa: S603
        command, env={**os.environ, "WRK_TOKEN": token}, stdout=subprocess.PIPE, text=True
    )


def stop_load(load: subprocess.Popen[str]) -> tuple[int, int, float]:
    """Requests made, failed (non-2xx answers and socket errors), and seconds of load."""
    load.send_signal(signal.SIGINT)
    output, _ = load.communicate(timeout=30)
    figures = json.loads(output.strip().splitlines()[-1])
    failed = figures["non_2xx"] + figures["socket_errors"]
    return figures["requests"], failed, figures["duration_us"] / 1e6


def rolling_restart(url: str, setup: Setup, log: Path) -> Figures:
    replicas = [Replica(url, setup.drain_seconds, log) for _ in range(2)]
    haproxy = HAProxy(replicas, setup.retries, log)
    try:
        haproxy.wait_until_up("app1", "app2")
        load = start_load(haproxy.url, token_through(haproxy.url))
        restarts = []
        for name, replica in zip(("app1", "app2"), replicas, strict=True):
            time.sleep(LEAD_SECONDS)
            restarts.append(replica.restart())
            haproxy.wait_until_up(name)
        time.sleep(LEAD_SECONDS)
        requests, failed, seconds = stop_load(load)
    finally:
        stop(haproxy.process)
        for replica in replicas:
            stop(replica.process)
    codes, stop_seconds = zip(*restarts, strict=True)
    return Figures(setup, requests, failed, seconds, codes, stop_seconds)


def table(results: list[Figures]) -> str:
    header = [f"HAProxy in front of 2 replicas, `wrk -t2 -c{WRK_CONNECTIONS}`", "seconds of load"]
    header += ["requests", "failed", "replicas' exit codes", "seconds from SIGTERM to exit"]
    rows = [
        [
            r.setup.label,
            f"{r.load_seconds:.0f}",
            f"{r.requests:,}",
            f"{r.failed:,}",
            ", ".join(map(str, r.exit_codes)),
            ", ".join(f"{s:.1f}" for s in r.stop_seconds),
        ]
        for r in results
    ]
    return markdown_table(header, "lrrrll", rows)
