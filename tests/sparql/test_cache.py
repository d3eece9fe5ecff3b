"""kg_service.cache: LRU by entries and bytes, emptied by a new graph version, safe across threads."""
from __future__ import annotations

import threading

from kg_service.cache import ResultCache


def test_lru_order_and_version_reset():
    c = ResultCache(max_entries=3)
    for i in range(3):
        c.put("v1", i, b"x")
    c.get("v1", 0)                 # 0 is now the most recently used
    c.put("v1", 3, b"x")           # evicts 1, the least recently used
    assert [c.get("v1", i) is not None for i in range(4)] == [True, False, True, True]
    assert c.get("v2", 0) is None and len(c) == 0
    assert c.stats()["version"] == "v2"


def test_byte_budget():
    c = ResultCache(max_entries=100, max_bytes=800)
    c.put("v", "big", b"x" * 101)          # more than 1/8 of the budget: not kept
    assert c.get("v", "big") is None
    for i in range(10):
        c.put("v", i, b"x" * 100)
    assert c.stats()["bytes"] <= 800 and c.get("v", 9) is not None and c.get("v", 0) is None


def test_disabled():
    c = ResultCache(max_entries=0)
    c.put("v", "k", b"x")
    assert c.get("v", "k") is None and not c.enabled


def test_threads():
    c = ResultCache(max_entries=50)
    errors = []

    def work(n):
        try:
            for i in range(2000):
                key = (n * 7 + i) % 80
                if c.get("v", key) is None:
                    c.put("v", key, b"%d" % key)
                elif c.get("v", key) not in (None, b"%d" % key):
                    errors.append(key)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(c) <= 50
