"""The versioned layout (kg_service/store/versions.py) that builds and curator writes share: each
publish stages a version, places it and swaps `current` to it; old versions and a dead writer's
staging directory are pruned; the served version is never touched."""
from __future__ import annotations

import os

from kg_service.store import open_store
from kg_service.store.embedded import EmbeddedStore
from kg_service.store.versions import KEEP_VERSIONS, current, publish_lock, read_facts

from tests.store.store_support import SAMPLE_GRAPHS


def test_publish_swaps_current_and_prunes(tmp_path):
    root = tmp_path / "store"
    dead = root / "versions" / ".staging-999999999-1"  # a writer killed mid-write (no such pid)
    dead.mkdir(parents=True)
    published = []
    for n in range(KEEP_VERSIONS + 2):
        with publish_lock(str(root)):
            writer = EmbeddedStore(str(root), read_only=False)
            published.append(writer.publish(SAMPLE_GRAPHS, "v%d" % n))
            writer.close()
        assert current(root) == published[-1]
        assert read_facts(published[-1])["version"] == "v%d" % n
    kept = sorted(p for p in os.listdir(root / "versions"))
    assert len(kept) == KEEP_VERSIONS and published[-1].name in kept
    assert not dead.exists()
    with open_store(str(root)) as served:
        assert served.graph_version() == "v%d" % (KEEP_VERSIONS + 1)
