"""One snapshot per graph version: everything the answers derive from the graph, built by one owner.

Why: the finder's vocabulary and recommendation details, the question parser's lexicon, the search
index, the pages' facts (with their rendered pathway pictures), the OpenAPI document and the named
graphs /sparql checks a dataset against change only with the graph. Kept apart, each filled
itself on a fresh worker's first requests and again after every swap, so those requests queued
behind each other's reads (issue 12). Here they are built together, once per version under one
lock: before a worker serves (`kg_service.services.warm`), and on a swap before answers move to the
new version (`kg_service.served_store.ServedStore`); a caller that finds its version unbuilt builds it
while any other waits for that one build.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # types only: the modules that fill a snapshot import this one
    from .api.graphdata import SearchIndex
    from .options import Vocabulary
    from .question import Lexicon
    from .store import Store
    from .ui.facts import Facts


@dataclass(frozen=True)
class Snapshot:
    """What one graph version answers from. The readers are `kg_service.options.read_snapshot` (the
    finder's part) and the steps added to `Snapshots`; a field no step fills stays None."""
    version: str
    vocabulary: Vocabulary
    details: dict[str, dict]               # recommendation IRI -> therapy, strength, quote, ...
    approvals: dict[str, list[dict]]       # drug IRI -> its FDA approvals
    bounds: dict[str, list[Decimal]]       # profile field -> the thresholds its conditions use
    lexicon: Lexicon | None = None         # the question parser's names
    search: SearchIndex | None = None      # /api/search
    pages: Facts | None = None             # the pages' form choices, pathway and quotes
    openapi: tuple[bytes, str] | None = None  # /openapi.json: its bytes and ETag
    graphs: frozenset[str] | None = None   # the store's named graphs (/sparql: which dataset graphs it holds)
    #: options.rq rows per part and assembled options per situation (see OptionsFinder): filled as
    #: profiles come (and ahead, by the finder's prefill step), shared by every request on this version
    parts: dict = field(default_factory=dict, repr=False, compare=False)
    situations: dict = field(default_factory=dict, repr=False, compare=False)


#: a step: (store, the snapshot built so far) -> the value of one field
Step = Callable[["Store", Snapshot], Any]


class Snapshots:
    """The owner: holds the snapshots of the latest versions (the one serving, and the one before it
    for answers that began on it) and builds each once.

    >>> class S:
    ...     version = "v1"
    ...     def graph_version(self): return self.version
    >>> owner = Snapshots(lambda s: Snapshot(s.graph_version(), None, {}, {}, {}))
    >>> owner.add("openapi", lambda store, snap: (b"{}", snap.version))
    >>> store = S(); first = owner.get(store)
    >>> owner.get(store) is first, first.openapi, owner.builds
    (True, (b'{}', 'v1'), 1)
    >>> store.version = "v2"; owner.get(store).version, owner.builds
    ('v2', 2)
    >>> store.version = "v1"; owner.get(store) is first   # the previous version is kept while it may answer
    True
    """

    KEEP = 2

    def __init__(self, read: Callable[[Store], Snapshot]):
        self._read = read
        #: called with each snapshot built, under the build's lock (a serving worker: `gc.freeze`)
        self.on_built: Callable[[Snapshot], None] | None = None
        self._steps: list[tuple[str, Step]] = []
        self._kept: dict[str, Snapshot] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def add(self, name: str, step: Step) -> None:
        """Fill field `name` with `step(store, snapshot so far)` in every build (in the order added)."""
        self._steps.append((name, step))

    def follow(self, store: Store, previous: str) -> None:
        """After a swap from version `previous`: build the store's new version now if `previous` had a
        snapshot (answers use them); if it had none, nothing is built ahead."""
        if previous in self._kept:
            self.get(store)

    def get(self, store: Store) -> Snapshot:
        """The snapshot of the store's current version, built now if it is new (one build; concurrent
        callers wait for it rather than each reading the graph)."""
        version = store.graph_version()
        snap = self._kept.get(version)
        if snap is not None:
            return snap
        with self._lock:
            snap = self._kept.get(version)
            if snap is None:
                snap = self._build(store)
                kept = {**self._kept, snap.version: snap}
                self._kept = dict(list(kept.items())[-self.KEEP:])  # replaced whole: readers take no lock
        return snap

    def _build(self, store: Store) -> Snapshot:
        snap = self._read(store)
        for name, step in self._steps:
            snap = replace(snap, **{name: step(store, snap)})
        self.builds += 1
        if self.on_built is not None:
            self.on_built(snap)
        return snap
