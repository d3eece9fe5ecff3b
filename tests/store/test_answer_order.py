"""Every named query answers the same rows in the same order on every backend: the store on disk,
its copy in memory (which iterates in another order) and a remote Oxigraph server.

Each ORDER BY ends in a key that makes the order total, and each GROUP_CONCAT reads its rows from an
ordered subquery, so a backend's own iteration order never shows in an answer.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg_service.store import open_store

ROOT = Path(__file__).resolve().parents[2]
QUERY_FILES = sorted(ROOT.glob("queries/*.rq")) + sorted(ROOT.glob("kg_service/*/queries/*.rq"))
# rows have an order only in a SELECT (an ASK is one boolean, a DESCRIBE a graph)
SELECTS = [p for p in QUERY_FILES if re.search(r"^SELECT\b", p.read_text(encoding="utf-8"), re.M)]
# no ORDER BY on purpose: the backends' iteration orders differ, which the comparison must notice
UNORDERED = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 200"


def _open(location: str, memory_quads: str, monkeypatch):
    monkeypatch.setenv("KG_STORE_MEMORY_QUADS", memory_quads)
    return open_store(location, read_only=True)


@pytest.fixture()
def disk_and_memory(store_path, monkeypatch):
    disk, memory = _open(store_path, "0", monkeypatch), _open(store_path, "10000000", monkeypatch)
    assert not disk.in_memory_copy and memory.in_memory_copy
    yield disk, memory
    disk.close()
    memory.close()


def test_the_backends_iterate_in_different_orders(disk_and_memory):
    """Without this, the comparisons below could not fail."""
    disk, memory = disk_and_memory
    assert disk.select(UNORDERED) != memory.select(UNORDERED)


@pytest.mark.parametrize("path", SELECTS, ids=lambda p: p.stem)
def test_named_query_rows_in_the_same_order(path, disk_and_memory, remote_store_url):
    text = path.read_text(encoding="utf-8")
    disk, memory = disk_and_memory
    expected = disk.select(text)
    assert expected, "%s answers nothing on the built graph: nothing compared" % path.name
    assert memory.select(text) == expected
    remote = open_store(remote_store_url, read_only=True)
    try:
        assert remote.select(text) == expected
    finally:
        remote.close()


def test_every_select_is_compared():
    assert len(SELECTS) >= 20 and len(QUERY_FILES) - len(SELECTS) <= 2
