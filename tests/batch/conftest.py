"""Session fixtures for the batch tests: a real S3 API server (moto's server mode) and a real
Ray cluster (a head node with 2 CPUs), both on 127.0.0.1 and started by the tests.

Ray's footprint is kept small for a 2-core machine: 2 CPUs (2 worker processes), no
dashboard, a 100 MB object store. The cluster is started with ``ray start --head --block``
in its own process group and stopped by signalling that group only (never ``ray stop``,
which would stop every Ray instance of the user on the machine).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUCKET = "streamseg-test"
TEST_RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
CREDENTIALS = {  # the standard AWS chain reads these: the same for the CLI and the workers
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT of a moto S3 server holding an empty bucket ``BUCKET``."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import boto3

    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def bucket(s3_endpoint: str) -> str:
    """The test bucket on the moto server."""
    return BUCKET


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[str]:
    """HOST:PORT of a local Ray head node (2 CPUs) whose workers import this checkout."""
    pytest.importorskip("ray")
    port = _free_port()
    # Ray turns a 127.0.0.1 address into the machine's outward IP, unless "clusters" are off
    # (its loopback-only mode, the default on macOS/Windows): then the head, its workers and
    # the CLI's driver all stay on 127.0.0.1. The CLI subprocesses inherit this.
    # The cluster listens on loopback only, so the tests run it without Ray's token auth
    # (a real cluster keeps it: see docs/batch.md).
    saved = {k: os.environ.get(k) for k in TEST_RAY_ENV}
    os.environ.update(TEST_RAY_ENV)
    temp = Path("/tmp") / f"ssray{port}"  # Ray's socket paths must stay short
    env = {
        **os.environ,
        **CREDENTIALS,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    ray_cli = Path(sys.executable).with_name("ray")
    log = (tmp_path_factory.mktemp("ray-log") / "ray-start.log").open("w")
    head = subprocess.Popen(
        [
            str(ray_cli),
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
            f"--temp-dir={temp}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped below, and nothing else
    )
    address = f"127.0.0.1:{port}"
    try:
        _wait_for_port(port, head, timeout=180)
        _wait_for_node(address, env, timeout=240)
        yield address
    finally:
        _stop_group(head)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wait_for_port(port: int, head: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Ray head did not listen on {port} within {timeout} s")


def _wait_for_node(address: str, env: dict[str, str], timeout: float) -> None:
    """Until a driver can join and sees the head's 2 CPUs (its raylet registers after the GCS
    listens; on a loaded machine that takes a while)."""
    probe = (
        f"import ray; ray.init(address={address!r}); "
        "assert ray.cluster_resources().get('CPU') == 2; ray.shutdown()"
    )
    deadline, error = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode == 0:
            return
        error = done.stderr[-500:]
        time.sleep(3)
    raise RuntimeError(f"no driver could join the Ray head at {address}: {error}")


def _stop_group(head: subprocess.Popen) -> None:
    """SIGTERM to the process group we started (ray start and the processes it spawned),
    then SIGKILL to whatever of that group is left after 20 s."""
    try:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
