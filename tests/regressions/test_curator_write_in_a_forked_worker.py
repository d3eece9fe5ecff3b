"""Regression: `serve` checked (and built) the store in the server's main process before the workers
were forked. RocksDB starts background threads on first use; a forked worker inherits none of them,
so its first curator write hung forever in flush(). The check and the build now run in child
processes (kg_service/cli.py: _run_check), and a write through a real server completes."""
from __future__ import annotations

from tests.security.support import TOKEN, ServeProcess, copy_store, curator_update


def test_a_curator_write_through_serve_completes(store_path, tmp_path):
    store = copy_store(store_path, tmp_path / "store")
    with ServeProcess(store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_REQUEST_LOG": "off"}, workers=1).start() as s:
        status, body = curator_update(s.url, 'INSERT DATA { GRAPH <https://w3id.org/amlkg/graph/curator> '
                                      '{ <urn:amlkg-test:a> <urn:amlkg-test:note> "ok" } }')
        assert status == 200, body
