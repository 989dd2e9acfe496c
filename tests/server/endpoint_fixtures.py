"""Fixtures shared by tests/server and tests/remote: a real endpoint on 127.0.0.1, port 0.

The server runs in a thread of the test process, over a tmp workspace and an Engine whose
analyzer is the RegisteredAnalyzer fake: register bytes, then IndexFaces with those bytes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import boto3
import numpy as np
import pytest
from botocore.config import Config

from app.core.engine import Engine
from app.server.endpoint import EndpointConfig, EndpointServer
from tests.core.fakes import RegisteredAnalyzer

REGION = "us-east-1"
TEST_KEY_ID = "AKIDREKURATORTEST"
TEST_SECRET = "test-secret-key/with+symbols"


@dataclass
class RunningEndpoint:
    server: EndpointServer
    engine: Engine
    analyzer: RegisteredAnalyzer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.contextmanager
def running_endpoint(workspace, analyzer=None, **config):
    analyzer = analyzer or RegisteredAnalyzer()
    engine = Engine(workspace, analyzer=analyzer)
    server = EndpointServer(engine, "127.0.0.1", 0, EndpointConfig(**config))
    server.start()
    try:
        yield RunningEndpoint(server, engine, analyzer)
    finally:
        server.stop()
        engine.close()


def boto3_client(url: str, key: str = "dummy-key", secret: str = "dummy-secret", **config):
    config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    return session.client("rekognition", endpoint_url=url, config=Config(**config))


@pytest.fixture(autouse=True)
def _no_aws_environment(tmp_path, monkeypatch):
    """Nothing from the developer's AWS setup reaches boto3 or the aws CLI."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("REKURATOR_ACCESS") or name.startswith("REKURATOR_SECRET"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def endpoint(tmp_path):
    with running_endpoint(tmp_path / "served-ws") as running:
        yield running


@pytest.fixture
def client(endpoint):
    c = boto3_client(endpoint.url)
    yield c
    c.close()


@pytest.fixture
def rng():
    return np.random.default_rng(4321)
