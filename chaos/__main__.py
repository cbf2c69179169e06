"""`make chaos`: the outbox's fault scenarios, then rolling restarts behind HAProxy; prints
the tables (with the machine and the date) for docs/operations.md.

    ./scripts/chaos [--no-postgres-restart] [--only outbox|rolling]

Uses the PostgreSQL database CHAOS_DATABASE_URL (default: `chaos` on 127.0.0.1, recreated),
HAProxy and wrk; restarts the local PostgreSQL cluster once (other clients of it see a few
seconds of outage) unless --no-postgres-restart. Process output goes to chaos.log.
"""

import argparse
import asyncio
import platform
import shutil
from datetime import UTC, datetime

from bench.system import machine
from chaos import outbox, rolling
from chaos.common import ROOT, database_url, recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--no-postgres-restart", action="store_true")
    parser.add_argument("--only", choices=("outbox", "rolling"))
    args = parser.parse_args()
    for tool in ("haproxy", "wrk"):
        if args.only != "outbox" and shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run ./scripts/chaos, which installs it")
    url = database_url()
    log = ROOT / "chaos.log"
    log.write_text("")
    asyncio.run(recreate_database(url))
    print(
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, "
        f"Python {platform.python_version()}, PostgreSQL on localhost",
        flush=True,
    )
    if args.only != "rolling":
        print("outbox:", flush=True)
        figures = asyncio.run(
            outbox.run_scenarios(url, log, restart_postgres_too=not args.no_postgres_restart)
        )
        print(outbox.table(figures), flush=True)
    if args.only != "outbox":
        print("rolling restarts:", flush=True)
        results = []
        for setup in rolling.SETUPS:
            print(f"  {setup.label} …", flush=True)
            results.append(rolling.rolling_restart(url, setup, log))
        print(rolling.table(results), flush=True)


if __name__ == "__main__":
    main()
