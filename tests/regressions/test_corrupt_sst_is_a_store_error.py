"""Regression: RocksDB reports a damaged file (bad block checksum, truncated SST, garbage MANIFEST) as
RuntimeError, which EmbeddedStore did not catch: opening a corrupt store raised a bare RuntimeError and
`serve` died with a traceback. It is a StoreError now, and `serve` refuses a corrupt store with one line
(see tests/security/test_faults.py::test_a_corrupt_store_is_refused_at_start)."""
from __future__ import annotations

import glob
import os

import pytest

from kg_service.store import StoreError
from kg_service.store.embedded import EmbeddedStore
from tests.security.support import copy_store


def test_a_garbage_manifest_is_a_store_error(store_path, tmp_path):
    store = copy_store(store_path, tmp_path / "store")
    manifest = glob.glob(os.path.join(os.path.realpath(os.path.join(store, "current")), "MANIFEST-*"))[0]
    with open(manifest, "wb") as f:
        f.write(b"garbage" * 10)
    with pytest.raises(StoreError, match="cannot be opened"):
        EmbeddedStore(store, read_only=True)
