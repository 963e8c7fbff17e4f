"""A Ray head node on 127.0.0.1 for tests and benchmarks, started and stopped by its caller.

Small for a 2-core machine: 2 CPUs (2 worker processes), no dashboard, a 100 MB object
store. It runs as ``ray start --head --block`` in its own process group and is stopped by
signalling that group only (never ``ray stop``, which stops every Ray of the user). On a
heavily loaded machine Ray's own start-up can fail (its raylet gives up waiting for its
agents), so a head that dies before a driver could join is started again (5 attempts in all).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

# Ray turns a 127.0.0.1 address into the machine's outward IP unless "clusters" are off (its
# loopback-only mode, the default on macOS/Windows): then head, workers and drivers all stay
# on 127.0.0.1. The head listens on loopback only, so it runs without Ray's token auth (a
# real cluster keeps it: see docs/batch.md). Drivers (the CLI) need the same variables.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


def start_head(
    env: dict[str, str], log: IO[str], attempts: int = 5
) -> tuple[subprocess.Popen, str]:
    """(the ``ray start`` process, HOST:PORT) once a driver can join and sees 2 CPUs."""
    env = {**env, **LOOPBACK_ENV, "RAY_USAGE_STATS_ENABLED": "0"}
    error = ""
    for _ in range(attempts):
        port = _free_port()
        head = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("ray")),
                "start",
                "--head",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                "--num-cpus=2",
                "--num-gpus=0",
                "--include-dashboard=false",
                "--object-store-memory=100000000",
                "--disable-usage-stats",
                f"--temp-dir=/tmp/ssray{port}",  # Ray's socket paths must stay short
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_head ends it, nothing else
        )
        address = f"127.0.0.1:{port}"
        error = _wait_until_joinable(head, address, env, timeout=300)
        if not error:
            return head, address
        stop_head(head)
    raise RuntimeError(f"no Ray head could be started on 127.0.0.1: {error}")


def stop_head(head: subprocess.Popen) -> None:
    """SIGTERM to the head's process group, then SIGKILL to whatever of it is left."""
    try:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)


def _wait_until_joinable(
    head: subprocess.Popen, address: str, env: dict[str, str], timeout: float
) -> str:
    """ "" once a driver joined and saw the head's 2 CPUs, else why not."""
    probe = (
        f"import ray; ray.init(address={address!r}); "
        "assert ray.cluster_resources().get('CPU') == 2; ray.shutdown()"
    )
    deadline, error = time.monotonic() + timeout, "timed out"
    while time.monotonic() < deadline:
        if head.poll() is not None:
            return f"ray start exited with {head.returncode}"
        try:
            done = subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=90
            )
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            return ""
        error = done.stderr[-300:]
        time.sleep(3)
    return error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
