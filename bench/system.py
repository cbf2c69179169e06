"""What the benchmarks and the chaos scenarios (chaos/) share: the machine they ran on, and
stopping the servers they started."""

import os
import platform
import re
import subprocess
from pathlib import Path


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    gib = f"{int(memory[1]) / 2**20:.0f} GiB" if memory else "unknown memory"
    return f"{os.cpu_count()} cores ({platform.machine()}, {model[1] if model else '?'}), {gib}"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def require_bench_database(database_url: str) -> None:
    """Refuses a PostgreSQL database not named for benchmarks (`…bench`, or `…bench` and
    digits): a benchmark empties what it uses."""
    if not database_url.startswith("postgresql"):
        return
    name = database_url.rsplit("/", 1)[-1].split("?", 1)[0]
    if not re.search(r"bench\d*$", name):
        raise SystemExit(f"refusing to use the database {name!r}: its name must end in 'bench'")


def high_water_mib(pid: int) -> float:
    """A running process's peak resident memory so far (VmHWM), 0 once it is gone. Read
    before it ends: a child's ru_maxrss also counts the parent's pages it was forked with."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) / 1024 if found else 0.0


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a running process has spent so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
