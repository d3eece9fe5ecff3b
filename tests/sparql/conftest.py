"""Fixtures for the SPARQL endpoint: a second real server with a short query timeout."""
from __future__ import annotations

import pytest

from tests.conftest import LiveServer

#: the query timeout (s) of the `short_timeout_server`, so the pathological-query tests stay quick
SHORT_TIMEOUT = 3


@pytest.fixture(scope="session")
def short_timeout_server(store_path):
    """The real service (gunicorn, 2 workers) with KG_QUERY_TIMEOUT=3: for cut-query tests."""
    server = LiveServer(store_path, env={"KG_QUERY_TIMEOUT": str(SHORT_TIMEOUT)})
    yield server
    server.stop()


@pytest.fixture()
def endpoint(live_server) -> str:
    return live_server.url + "/sparql"
