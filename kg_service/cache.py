"""A small in-process cache of query answers, keyed on the graph version and the request.

Each worker process holds one. An answer depends only on the graph and the request, and a build
changes the graph version, so entries never need invalidating: a new version simply empties the
cache. Bounded by entry count (``KG_CACHE_ENTRIES``; 0 turns it off) and by total bytes
(``KG_CACHE_MAX_BYTES``, default 64 MB); least recently used entries go first. Thread-safe.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

from flask import Flask, current_app

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_EXT = "amlkg_cache"


class ResultCache:
    """LRU of answers for one graph version.

    >>> c = ResultCache(max_entries=2)
    >>> c.put("v1", ("SELECT 1",), b"one"); c.put("v1", ("SELECT 2",), b"two")
    >>> c.get("v1", ("SELECT 1",))
    b'one'
    >>> c.put("v1", ("SELECT 3",), b"three")        # evicts the least recently used: SELECT 2
    >>> c.get("v1", ("SELECT 2",)) is None, c.get("v1", ("SELECT 3",))
    (True, b'three')
    >>> c.get("v2", ("SELECT 1",)) is None, len(c)  # a new graph version empties the cache
    (True, 0)
    """

    def __init__(self, max_entries: int = 4096, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries = max(0, int(max_entries))
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._version: str | None = None
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, version: str, key: Hashable):
        """The cached value for `key` under graph `version`, or None."""
        if not self.max_entries:
            return None
        with self._lock:
            if version != self._version:
                self._reset(version)
                self.misses += 1
                return None
            item = self._entries.get(key)
            if item is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, version: str, key: Hashable, value, size: int | None = None) -> None:
        """Remember `value` (of `size` bytes; measured with len() when not given)."""
        if not self.max_entries:
            return
        if size is None:
            size = _size(value)
        if size > self.max_bytes // 8:  # one answer may not take over the cache
            return
        with self._lock:
            if version != self._version:
                self._reset(version)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._reset(None)

    def _reset(self, version: str | None) -> None:
        self._entries.clear()
        self._bytes = 0
        self._version = version

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict:
        """Counters for /health-style reporting and tests."""
        return {"entries": len(self._entries), "bytes": self._bytes, "hits": self.hits,
                "misses": self.misses, "version": self._version}


def _size(value) -> int:
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, tuple):
        return sum(_size(v) for v in value) + 64
    return 256


def init_app(app: Flask) -> ResultCache:
    """Give the app its cache (once; blueprints sharing it call this too)."""
    cache = app.extensions.get(_EXT)
    if cache is None:
        cache = ResultCache(int(app.config.get("KG_CACHE_ENTRIES", 4096)),
                            int(app.config.get("KG_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES)))
        app.extensions[_EXT] = cache
    return cache


def get_cache() -> ResultCache:
    """The current app's cache (created on first use)."""
    cache = current_app.extensions.get(_EXT)
    return cache if cache is not None else init_app(current_app)
