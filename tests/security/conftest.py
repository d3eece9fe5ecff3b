"""Fixtures for the security, fault and load tests: private copies of the built store, apps with
limits set low enough to reach in a test, and `serve` processes a test may kill."""
from __future__ import annotations

import pytest

from .support import TOKEN, ServeProcess, copy_store


@pytest.fixture()
def own_store(store_path, tmp_path) -> str:
    """A private copy of the session's built store (a test may corrupt, kill or write it)."""
    return copy_store(store_path, tmp_path / "store")


@pytest.fixture()
def make_app(store_path):
    """create_app with test settings over the session store (request log off unless asked)."""
    from kg_service import create_app

    def make(**settings):
        config = {"TESTING": True, "KG_STORE": store_path, "KG_REQUEST_LOG": "off", **settings}
        return create_app(config)
    return make


@pytest.fixture()
def curator_server(own_store):
    """A real server with curator writes on, over a private store."""
    server = ServeProcess(own_store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_CURATOR_NAME": "test-curator"}).start()
    yield server
    server.stop()
