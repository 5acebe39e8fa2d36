"""What the benchmarks share: a free loopback port, and PostgreSQL and Redis of their own
(bin/services) unless DATABASE_URL and REDIS_URL name servers to use."""

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def services_start(workdir: Path) -> bool:
    """Start PostgreSQL and Redis in `workdir` and point the environment at them; False when the
    environment already names servers (nothing started)."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return False
    out = subprocess.run([str(ROOT / "bin/services"), "start", str(workdir)], check=True,
                         capture_output=True, text=True).stdout
    os.environ.update(dict(line.split("=", 1) for line in out.split()))
    return True


def services_stop(workdir: Path) -> None:
    subprocess.run([str(ROOT / "bin/services"), "stop", str(workdir)], check=False)
