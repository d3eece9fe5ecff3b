"""A small graph is served from a copy in memory (pyoxigraph evaluates it faster there than through
RocksDB); a large one from disk. A new version, from a build or a curator write, is copied in again."""
from __future__ import annotations

import pyoxigraph as ox
import pytest

from kg_service.curator.storage import add_triples, apply_write
from kg_service.store.embedded import DEFAULT_MEMORY_QUADS, EmbeddedStore, memory_quads_limit
from kg_service.store.versions import CURATOR_GRAPH

GRAPH = "https://w3id.org/amlkg/graph/test"
NT = b'<urn:amlkg-test:s> <urn:amlkg-test:p> "%s" .\n'
VALUES = "SELECT ?o WHERE { <urn:amlkg-test:s> <urn:amlkg-test:p> ?o } ORDER BY ?o"


def values(store) -> list[str]:
    return [str(r["o"]) for r in store.select(VALUES)]


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("KG_STORE_MEMORY_QUADS", raising=False)
    EmbeddedStore(str(tmp_path), read_only=False).publish({GRAPH: NT % b"one"}, "v1")
    return tmp_path


def test_a_small_graph_is_served_from_memory_by_default(root):
    assert memory_quads_limit({}) == DEFAULT_MEMORY_QUADS > 10_000  # the built graph's ~9,000 quads fit
    reader = EmbeddedStore(str(root), read_only=True)
    assert reader.in_memory_copy and values(reader) == ["one"]


def test_a_graph_above_the_limit_stays_on_disk(root, monkeypatch):
    monkeypatch.setenv("KG_STORE_MEMORY_QUADS", "2")  # the graph and its union copy: 4 quads
    reader = EmbeddedStore(str(root), read_only=True)
    assert not reader.in_memory_copy and values(reader) == ["one"]


def test_a_writable_store_is_never_copied(root):
    assert not EmbeddedStore(str(root), read_only=False).in_memory_copy


def test_a_new_build_is_copied_in_on_refresh(root):
    reader = EmbeddedStore(str(root), read_only=True)
    EmbeddedStore(str(root), read_only=False).publish({GRAPH: NT % b"two"}, "v2")
    assert values(reader) == ["one"]  # the copy is not the files
    assert reader.refresh()
    assert reader.in_memory_copy and reader.graph_version() == "v2" and values(reader) == ["two"]


def test_a_curator_write_is_copied_in_on_refresh(root):
    reader = EmbeddedStore(str(root), read_only=True)
    triple = ox.Triple(ox.NamedNode("urn:amlkg-test:s"), ox.NamedNode("urn:amlkg-test:p"), ox.Literal("curated"))
    apply_write(str(root), add_triples([triple]),
                operation="POST", who="test", client=None, what="one triple")
    assert reader.refresh()
    assert reader.in_memory_copy and values(reader) == ["curated", "one"]
    assert reader.ask("ASK { GRAPH <%s> { ?s ?p ?o } }" % CURATOR_GRAPH)


def test_the_served_store_takes_the_limit_from_the_apps_settings(root, monkeypatch):
    """KG_STORE_MEMORY_QUADS reaches the served store through the app's settings (kg_service.config),
    so a config file or a test's mapping sets it as well as the environment does."""
    from kg_service import create_app
    from kg_service.served_store import served_store
    app = create_app({"TESTING": True, "KG_STORE": str(root), "KG_STORE_MEMORY_QUADS": 0})
    assert not served_store(app).get().in_memory_copy
    monkeypatch.setenv("KG_STORE_MEMORY_QUADS", "0")
    assert served_store(create_app({"TESTING": True, "KG_STORE": str(root), "KG_STORE_MEMORY_QUADS": 10})
                        ).get().in_memory_copy  # the test's mapping over the environment
