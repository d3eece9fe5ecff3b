"""The default backend: pyoxigraph on disk, one directory per built version.

A store location holds one directory per version and a ``current`` symlink swapped atomically to the
newest (the layout, and how a version is staged, committed and pruned: `kg_service.store.versions`).
Serving workers open ``current`` read-only and follow the symlink when a build swaps it, so readers
never see half a graph, and a build that fails before the swap leaves the served store untouched.
Queries run on a helper thread (pyoxigraph releases the GIL) so a caller can stop waiting at a
deadline; the runaway evaluation cannot be interrupted, so the store then reports itself
``poisoned`` and the server recycles the worker process.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from itertools import islice
from pathlib import Path
from typing import Mapping

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef

from .base import (META_GRAPH, VERSION_PREDICATE, QuerySyntaxError, QueryTimeout, QueryUnsupported,
                   Store, StoreError, StoreUnavailable, UnsupportedFormat)
from .binding import bind_values
from .integrity import recorded_version, write_manifest
from .versions import (MANIFEST_FILE, current, final_dir, has_union_copy, place, prune,
                       read_facts, staging_dir, swap_in, write_facts)

#: stores up to this many quads are served from memory (see `memory_quads_limit`): ~50 MB per worker
#: at most; the built graph (about 9,000 quads with its union copy) fits many times over
DEFAULT_MEMORY_QUADS = 100_000
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def to_rdflib(term):
    """Convert a pyoxigraph term to the rdflib term callers use."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise StoreError("unsupported term %r" % (term,))


#: how RocksDB names trouble of the files under a store (its status names open the message)
_DISK_TROUBLE = ("IO error", "Corruption", "Resource busy")


def engine_error(e: Exception) -> StoreError:
    """pyoxigraph's exception as the store's kind of trouble: the one place its errors are sorted
    (queries here, curator writes too), so that no caller reads messages.

    >>> type(engine_error(SyntaxError("error at 1:8: expected a variable"))).__name__
    'QuerySyntaxError'
    >>> type(engine_error(RuntimeError("The function <urn:f> is not supported"))).__name__
    'QueryUnsupported'
    >>> type(engine_error(RuntimeError("IO error: No space left on device"))).__name__
    'StoreUnavailable'
    """
    if isinstance(e, StoreError):
        return e
    message = " ".join(str(e).split())[:500]
    if isinstance(e, SyntaxError):
        m = re.search(r"(\d+):(\d+)", message)
        return QuerySyntaxError(message, *(map(int, m.groups()) if m else ()))
    if isinstance(e, OSError) or (isinstance(e, RuntimeError) and message.startswith(_DISK_TROUBLE)):
        return StoreUnavailable("the store could not be read: %s" % message)
    if isinstance(e, ValueError):
        return QuerySyntaxError(message)
    return QueryUnsupported(message)


def engine_call(fn):
    """Run `fn` (which calls pyoxigraph), its errors sorted by `engine_error`."""
    try:
        return fn()
    except StoreError:
        raise
    except (SyntaxError, ValueError, RuntimeError, OSError) as e:
        raise engine_error(e) from None


class EmbeddedStore(Store):
    """pyoxigraph on disk; read-only for serving, a fresh version directory for building.

    `environ` holds the store's own settings (KG_STORE_MEMORY_QUADS): the served store passes the
    app's (`kg_service.config.store_environ`); without it, the process environment is read."""

    _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="amlkg-query")

    def __init__(self, location: str | None, *, read_only: bool = True, timeout: float | None = None,
                 environ: Mapping[str, str] | None = None):
        self.root = Path(location) if location is not None else None
        self.read_only = read_only
        self.default_timeout = timeout
        self.environ = environ
        self.poisoned = False
        self._lock = threading.Lock()
        self._opened = _Opened(None, None, {}, False)
        self._open_current()

    @classmethod
    def in_memory(cls) -> "EmbeddedStore":
        """A writable store in memory only, nothing on disk: to query graphs that are not served
        (an older build's, for release notes). Its default graph is the union of its named graphs."""
        return cls(None, read_only=False)

    # -- lifecycle --------------------------------------------------------------------------
    def _open_current(self) -> None:
        target = current(self.root) if self.root is not None else None
        if target is None:
            if self.read_only:
                raise StoreError("no built store at %s: run `python -m kg_service build --store %s`"
                                 % (self.root, self.root))
            self._opened = _Opened(ox.Store(), None, {}, False, version="")
            return
        try:
            store = ox.Store.read_only(str(target))
        except (OSError, RuntimeError) as e:  # RocksDB reports damaged files as RuntimeError
            raise StoreError("the store at %s cannot be opened (%s): rebuild it with "
                             "`python -m kg_service build --store %s`" % (target, str(e).splitlines()[0], self.root))
        facts = read_facts(target)
        served = _in_memory_if_small(store, facts, memory_quads_limit(self.environ)) if self.read_only \
            else store  # serving only
        self._opened = _Opened(served, target, facts, has_union_copy(store), memory=served is not store)

    def refresh(self) -> bool:
        """Follow the `current` symlink if a build swapped it; True when a new version was opened."""
        if not self.read_only:
            return False
        target = current(self.root)
        if target is None or target == self._opened.target:
            return False
        with self._lock:
            if target != self._opened.target:
                self._open_current()
                return True
        return False

    def close(self) -> None:
        self._opened = _Opened(None, None, {}, False)

    # -- queries ----------------------------------------------------------------------------
    def _run(self, fn, timeout: float | None):
        timeout = timeout if timeout is not None else self.default_timeout
        fn = functools.partial(engine_call, fn)  # results are read lazily: their errors too
        gate = self.gate  # kg_service.limits.QueryGate: a slot per evaluation, Overloaded when none frees
        if not timeout:
            if gate is None:
                return fn()
            with gate.held():
                return fn()
        started = time.monotonic()
        future = self._pool.submit(fn) if gate is None else gate.submit(self._pool, fn)
        try:
            result = future.result(timeout=timeout)
        except FutureTimeout:
            self.poisoned = True
            if gate is not None:
                gate.abandon(future)  # this worker is being replaced: the runaway no longer counts
            raise QueryTimeout("query cut after %.1f s" % timeout, timeout)
        if time.monotonic() - started > timeout:
            # done, but after its deadline (the waiting thread was not scheduled in time): the limit
            # holds whichever thread ran first; nothing runs on, so the worker stays
            raise QueryTimeout("query ran past its %.1f s limit" % timeout, timeout)
        return result

    def _query(self, query: str, *, default_graphs=None, named_graphs=None, base_iri=None):
        opened = self._opened  # one version for the whole evaluation, whatever a refresh does meanwhile
        kwargs = {}
        # None: the union of all named graphs / every named graph; a list (even empty) is the
        # dataset exactly as given (SPARQL protocol default-graph-uri / named-graph-uri, FROM).
        if default_graphs is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
        elif not opened.union:
            kwargs["use_default_graph_as_union"] = True
        if named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        if base_iri:
            kwargs["base_iri"] = base_iri
        return opened.store.query(query, **kwargs)

    def select(self, query, bindings=None, *, timeout=None):
        """Rows of a SELECT as dicts of rdflib terms (unbound variables are left out).

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     s = EmbeddedStore(d, read_only=False)
        ...     s.replace_graph("urn:g", b"<urn:a> <urn:p> \\"x\\" .\\n")
        ...     s.select("SELECT ?o WHERE { ?s <urn:p> ?o }", {"s": URIRef("urn:a")})
        [{'o': rdflib.term.Literal('x')}]
        """
        text = bind_values(query, bindings)

        def run():
            res = self._query(text)
            if not isinstance(res, ox.QuerySolutions):
                raise QuerySyntaxError("not a SELECT query")
            names = [v.value for v in res.variables]
            return [{n: to_rdflib(sol[n]) for n in names if sol[n] is not None} for sol in res]
        return self._run(run, timeout)

    def ask(self, query, bindings=None, *, timeout=None):
        text = bind_values(query, bindings)

        def run():
            res = self._query(text)
            if not isinstance(res, ox.QueryBoolean):
                raise QuerySyntaxError("not an ASK query")
            return bool(res)
        return self._run(run, timeout)

    def construct(self, query, bindings=None, *, timeout=None):
        text = bind_values(query, bindings)

        def run():
            res = self._query(text)
            if not isinstance(res, ox.QueryTriples):
                raise QuerySyntaxError("not a CONSTRUCT or DESCRIBE query")
            g = rdflib.Graph()
            for t in res:
                g.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
            return g
        return self._run(run, timeout)

    def raw(self, query, media_type, *, default_graphs=None, named_graphs=None, base_iri=None,
            timeout=None):
        """Run any query form and serialise the result with pyoxigraph's own writers."""
        def run():
            res = self._query(query, default_graphs=default_graphs, named_graphs=named_graphs,
                              base_iri=base_iri)
            if isinstance(res, ox.QueryTriples):
                fmt = ox.RdfFormat.from_media_type(media_type)
                if fmt is None:
                    raise UnsupportedFormat("This query's answer cannot be written as %s." % media_type)
                return ox.serialize(res, format=fmt)
            fmt = ox.QueryResultsFormat.from_media_type(media_type)
            if fmt is None:
                raise UnsupportedFormat("This query's answer cannot be written as %s." % media_type)
            return res.serialize(format=fmt)
        return self._run(run, timeout)

    # -- writing ----------------------------------------------------------------------------
    def replace_graph(self, graph_iri: str, ntriples: bytes) -> None:
        """Replace one named graph whole (write mode only; the build publishes the result)."""
        if self.read_only:
            raise StoreError("the store is open read-only")
        g, store = ox.NamedNode(graph_iri), self._opened.store
        store.remove_graph(g) if store.contains_named_graph(g) else None
        store.load(ntriples, format=ox.RdfFormat.N_TRIPLES, to_graph=g)

    def publish(self, graphs: Mapping[str, bytes], version: str, manifest: dict | None = None) -> Path:
        """Write `graphs` (IRI -> N-Triples) as a new version directory and swap `current` to it.

        Everything is written and flushed before the symlink swap, so a build killed at any point
        leaves the previous version serving. `manifest`, the build's release manifest, is kept in
        the version directory (`MANIFEST_FILE`), under the same checksums as RocksDB's files.
        """
        staging = staging_dir(self.root)
        final = final_dir(self.root, version)
        try:
            store = ox.Store(str(staging))
            for iri, data in graphs.items():
                store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(iri))
            count = len(store) + 1
            for iri, data in graphs.items():
                # the union of the named graphs is also written as the default graph: queries
                # then read one graph instead of merging all of them (7x faster, measured)
                store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
            for graph in (ox.NamedNode(META_GRAPH), ox.DefaultGraph()):
                store.add(ox.Quad(ox.NamedNode(META_GRAPH), ox.NamedNode(VERSION_PREDICATE),
                                  ox.Literal(version), graph))
            write_facts(staging, version, count)
            if manifest is not None:
                (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
            store.flush()
            store.optimize()
            del store
            write_manifest(staging)  # fsyncs every file; `serve` checks it before serving
            place(staging, final)
            swap_in(self.root, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        prune(self.root, keep=final)
        if not self.read_only:
            self._opened = _Opened(ox.Store.read_only(str(final)), final, read_facts(final), True, version=version)
        return final

    # -- facts ------------------------------------------------------------------------------
    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self._opened.store.named_graphs() if isinstance(g, ox.NamedNode))

    def triple_count(self) -> int:
        """Quads in the named graphs (a published version records it; the default-graph copy is not counted)."""
        opened = self._opened
        if opened.facts.get("triples") is not None:
            return int(opened.facts["triples"])
        return len(opened.store)

    def graph_version(self) -> str:
        """The opened version's graph version, remembered with that version (never beside it: a
        refresh between reading and remembering would otherwise pin an old version for good)."""
        opened = self._opened
        if opened.version is None:
            # a published version records it beside its files: no query (nor a query slot) needed
            recorded = opened.facts.get("version")
            opened.version = str(recorded) if recorded else recorded_version(opened.store)
        return opened.version

    def known_version(self) -> str | None:
        """The opened version's graph version once `graph_version` has read it."""
        return self._opened.version

    @property
    def in_memory_copy(self) -> bool:
        """True when the served version is answered from a copy in memory (see `memory_quads_limit`)."""
        return self._opened.memory

    @property
    def location(self) -> str:
        return str(self._opened.target or self.root)


class _Opened:
    """One opened version and what is known of it. A refresh replaces it whole, in one assignment,
    so a reader takes the store, its facts and its version from the same version."""

    __slots__ = ("store", "target", "facts", "union", "version", "memory")

    def __init__(self, store, target: Path | None, facts: dict, union: bool, version: str | None = None,
                 memory: bool = False):
        self.store, self.target, self.facts, self.union, self.version = store, target, facts, union, version
        self.memory = memory  # a copy in memory of the version at `target`


def memory_quads_limit(environ=None) -> int:
    """Largest store (in quads) a serving worker copies into memory: KG_STORE_MEMORY_QUADS, 0 = never.

    >>> memory_quads_limit({"KG_STORE_MEMORY_QUADS": "100000"}), memory_quads_limit({}) == DEFAULT_MEMORY_QUADS
    (100000, True)

    The in-memory store iterates in another order than RocksDB; answers are the same because every
    named query fixes its order (tests/store/test_answer_order.py).
    """
    raw = (os.environ if environ is None else environ).get("KG_STORE_MEMORY_QUADS", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_MEMORY_QUADS
    except ValueError:
        raise StoreError("KG_STORE_MEMORY_QUADS=%r is not a number of quads" % raw) from None


def _in_memory_if_small(store: ox.Store, facts: dict, limit: int) -> ox.Store:
    """A published version of at most `limit` quads is served from a copy in memory, read-only by
    use: queries evaluate 1.5-3x faster than through RocksDB's read path (profile in
    benchmarks/README.md), at about 0.5 KB of memory per quad per worker. Larger versions stay on disk."""
    if limit <= 0:
        return store
    if facts.get("triples") is not None:  # the named graphs; their union copy in the default graph
        quads = int(facts["triples"]) * (2 if has_union_copy(store) else 1)
    else:
        quads = sum(1 for _ in islice(store, limit + 1))
    if quads > limit:
        return store
    memory = ox.Store()
    memory.bulk_extend(store)
    return memory


