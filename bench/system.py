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
