"""Shared fixtures: the real graph built once per session, the app, and a real server over HTTP."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOURCE_TEXT = ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared, or skip: the shared checkers live beside the project, not in it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip("../shared is absent (the checkers live beside the project in CI): %s" % path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> str:
    """The real graph, built from the project's sources into a temporary store."""
    from loaders.build import build
    path = tmp_path_factory.mktemp("store") / "store"
    build(str(path), release_dir=str(path.parent / "release"), log=lambda *a: None)
    return str(path)


@pytest.fixture(scope="session")
def store(store_path):
    from kg_service.store import open_store
    s = open_store(store_path, read_only=True)
    yield s
    s.close()


@pytest.fixture()
def app(store_path):
    from kg_service import create_app
    return create_app({"TESTING": True, "KG_STORE": store_path})


@pytest.fixture()
def client(app):
    return app.test_client()


class LiveServer:
    """A real `python -m kg_service serve` process on a free loopback port."""

    def __init__(self, store: str, env: dict | None = None, workers: int = 2):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(Path(store).parent / ("server-%d.log" % self.port), "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kg_service", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--store", store, "--workers", str(workers)],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("server exited: %s" % self.log.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server not ready after %.0f s" % timeout)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def live_server(store_path):
    """The real service over real HTTP (gunicorn, 2 workers), shared by the session."""
    server = LiveServer(store_path)
    yield server
    server.stop()
