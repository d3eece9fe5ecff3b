"""Store fixtures: `backend_store`, one store per backend ("embedded"; "remote", a real `oxigraph serve`
keeping its default graph apart as Fuseki does; "remote-union", one whose default graph is the union
of the named graphs as Virtuoso's and GraphDB's are) holding the same published graphs, and a
scripted fake server.

Any test that takes `backend_store` runs once per backend. Override `backend_graphs` (a dict of graph
IRI -> N-Triples bytes) in a test module to publish other data; `backend_location` is the matching
``KG_STORE`` value (a directory or the remote query URL) for an app under test.
"""
from __future__ import annotations

import pytest

from kg_service.store import open_store

from tests.store.store_support import (SAMPLE_GRAPHS, VERSION, FakeSparqlServer, OxigraphServer,
                           publish_embedded, publish_remote)


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    """One oxigraph server for the session (tests clear it before publishing)."""
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph") / "db").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def union_oxigraph_server(tmp_path_factory):
    """One oxigraph server for the session whose default graph is the union of its named graphs."""
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph-union") / "db", union_default_graph=True).start()
    yield server
    server.stop()


@pytest.fixture()
def own_oxigraph_server(tmp_path):
    """An oxigraph server of the test's own, free to be stopped and restarted."""
    server = OxigraphServer(tmp_path / "db").start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "remote", "remote-union"])
def backend(request) -> str:
    """The backend a test runs on."""
    return request.param


@pytest.fixture()
def backend_graphs() -> dict:
    """The graphs `backend_store` publishes; override in a module for other data."""
    return SAMPLE_GRAPHS


@pytest.fixture()
def backend_location(request, backend, backend_graphs, tmp_path) -> str:
    """A `KG_STORE` value where `backend_graphs` are published as version VERSION."""
    if backend == "embedded":
        return publish_embedded(tmp_path / "store", backend_graphs, VERSION)
    server = "oxigraph_server" if backend == "remote" else "union_oxigraph_server"
    return publish_remote(request.getfixturevalue(server), backend_graphs, VERSION)


@pytest.fixture()
def backend_store(backend_location):
    """A read-only store on `backend_location`, as a serving worker opens it."""
    store = open_store(backend_location, read_only=True)
    yield store
    store.close()


@pytest.fixture()
def fake_sparql():
    server = FakeSparqlServer()
    yield server
    server.close()
