"""The store's own queries are runnable .rq files, so they spell the meta graph and the version
predicate out; they must name what `kg_service.store.base` (and through it `vocab`) defines."""
from __future__ import annotations

from kg_service.store.base import META_GRAPH, VERSION_PREDICATE, store_query


def test_the_store_queries_name_the_meta_graph_and_the_version_predicate_of_the_code():
    for name in ("graph-version", "listed-graphs"):
        text = store_query(name)
        assert "<%s>" % META_GRAPH in text, name
    assert "<%s>" % VERSION_PREDICATE in store_query("graph-version")
