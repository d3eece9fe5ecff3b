"""Regression (CI, tests/security/test_curator.py::test_concurrent_writes_over_http_lose_nothing): a
worker went on serving an old curators' graph for good after a burst of writes.

EmbeddedStore remembered the graph version beside the opened store. A request thread that read the
version from the old version's facts while a refresh opened the next version, and remembered it after
the refresh had cleared the memo, pinned the old version to the new store. Answers are cached under
the graph version, so the worker answered from its cache of the old graph until the next write. The
version is now remembered with the opened version itself, which a refresh replaces whole.

The test makes that interleaving happen every time: the reader thread is held inside the version
lookup (a facts mapping that waits) while `current` is swapped and the store refreshed."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import kg_service.store.embedded as embedded
from kg_service.store.embedded import EmbeddedStore

NT = b'<urn:amlkg-test:s> <urn:amlkg-test:p> "%s" .\n'
OLD, NEW = "a" * 64, "b" * 64


def point_current(root: Path, version_dir: Path) -> None:
    """Swap `current` the way a build or a curator write does: a new link renamed over the old."""
    tmp = root / ".current-test"
    os.symlink(os.path.relpath(version_dir, root), tmp)
    os.replace(tmp, root / "current")


class HeldFacts(dict):
    """A version's facts whose version lookup waits until the test lets it go."""

    def __init__(self, facts, entered: threading.Event, release: threading.Event):
        super().__init__(facts)
        self.entered, self.release = entered, release

    def get(self, key, default=None):
        value = super().get(key, default)
        if key == "version":
            self.entered.set()
            self.release.wait(10)
        return value


def test_a_refresh_during_a_version_lookup_does_not_pin_the_old_version(tmp_path, monkeypatch):
    writer = EmbeddedStore(str(tmp_path), read_only=False)
    old_dir = writer.publish({"urn:amlkg-test:g": NT % OLD.encode()}, OLD)
    new_dir = writer.publish({"urn:amlkg-test:g": NT % NEW.encode()}, NEW)
    point_current(tmp_path, old_dir)

    entered, release = threading.Event(), threading.Event()
    read_facts = embedded.read_facts
    monkeypatch.setattr(embedded, "read_facts", lambda d: HeldFacts(read_facts(d), entered, release)
                        if Path(d) == old_dir else read_facts(d))
    reader = EmbeddedStore(str(tmp_path), read_only=True)
    seen = []
    lookup = threading.Thread(target=lambda: seen.append(reader.graph_version()))
    lookup.start()
    assert entered.wait(10), "the reader never looked the version up"
    point_current(tmp_path, new_dir)
    assert reader.refresh()
    release.set()
    lookup.join(10)

    assert seen == [OLD]  # the lookup begun on the old version answers for it
    assert reader.graph_version() == NEW
    assert [str(r["o"]) for r in reader.select("SELECT ?o WHERE { ?s <urn:amlkg-test:p> ?o }")] == [NEW]
