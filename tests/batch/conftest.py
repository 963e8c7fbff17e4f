"""Session fixtures for the batch tests: a real S3 API server (moto's server mode) and a real
Ray cluster (a head node with 2 CPUs), both on 127.0.0.1 and started by the tests.

The Ray head is streamseg/testing/ray_head.py's: 2 CPUs, no dashboard, a 100 MB object store, in its
own process group, stopped by signalling that group only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUCKET = "streamseg-test"
CREDENTIALS = {  # the standard AWS chain reads these: the same for the CLI and the workers
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


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
    """HOST:PORT of a local Ray head node (2 CPUs) whose workers import this checkout; the
    CLI subprocesses get the loopback settings through the environment."""
    pytest.importorskip("ray")
    from streamseg.testing.ray_head import LOOPBACK_ENV, start_head, stop_head

    saved = {k: os.environ.get(k) for k in LOOPBACK_ENV}
    os.environ.update(LOOPBACK_ENV)
    env = {
        **os.environ,
        **CREDENTIALS,  # the workers' standard AWS chain
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    log = (tmp_path_factory.mktemp("ray-log") / "ray-start.log").open("w")
    head, address = start_head(env, log)
    try:
        yield address
    finally:
        stop_head(head)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
