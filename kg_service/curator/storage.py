"""Curator writes on disk: atomic, durable, audited, and confined to the curators' graph.

A write never changes the served version in place. Under the store's publish lock (shared with the
build) it:

1. copies the served version into a staging directory (a RocksDB checkpoint: hard links, instant);
2. applies the change there, on a helper thread under the query timeout;
3. refuses it unless every quad outside ``…/graph/curator`` is as it was (an order-free fingerprint of
   all other quads, before and after; so ``DROP ALL``, a write to the default graph or to a source's
   graph, however spelled, changes nothing);
4. gives the version a new ``graphVersion`` (caches keyed on it drop their answers), flushes, writes
   and fsyncs the integrity manifest;
5. appends a ``pending`` audit record (who, when, what: the full update text or graph body, versions
   before and after) and fsyncs it;
6. renames the staging directory into ``versions/``, saves the curator graph's N-Triples to
   ``curator/graph.nt`` (write, fsync, rename, fsync the directory), swaps ``current`` (fsynced);
7. appends a ``committed`` audit record and fsyncs it; only then does the route answer 2xx.

A crash before step 6's swap leaves the previous version serving and the write unacknowledged; a
crash after it leaves a served version that has the write, whose ``pending`` record the next write
(or `reconcile`) completes with ``committed``. Nothing acknowledged can be lost, and nothing
half-written is ever served.

A build keeps the curators' graph: under the same lock it reads the graph from the served version
(or from ``curator/graph.nt`` when there is no readable version) and publishes it with the sources.

The versioned layout (the publish lock, staging, placing and swapping in a version, pruning, and
reading the durable copy ``curator/graph.nt`` back) is `kg_service.store.versions`'s; this module
writes that copy after each committed write, and keeps the audit log ``ROOT/curator/audit.jsonl``
(append-only, one JSON object a line).
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from pathlib import Path
from typing import Callable

import orjson
import pyoxigraph as ox

from ..store.base import META_GRAPH, VERSION_PREDICATE, QuerySyntaxError, QueryTimeout, QueryUnsupported, StoreError
from ..store.embedded import engine_call
from ..store.integrity import fsync_dir, write_manifest
from ..store.versions import (CURATOR_GRAPH, carry_over, curated_ntriples, curator_dir,
                              current, final_dir, has_union_copy, is_embedded, place, prune, publish_lock,
                              staging_dir, swap_in, write_facts)
from ..store.integrity import recorded_version

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amlkg-curator")


class CuratorError(Exception):
    """A write was refused (status 4xx) or failed (5xx); nothing was changed."""

    def __init__(self, status: int, title: str, detail: str, kind: str):
        super().__init__(detail)
        self.status, self.title, self.detail, self.kind = status, title, detail, kind


def audit_path(location: str) -> Path:
    return curator_dir(location) / "audit.jsonl"


def _fingerprint(store: ox.Store) -> tuple[int, int, tuple]:
    """An order-free fingerprint of everything outside the curators' graph: the number of quads, the
    sum of their 64-bit hashes, and the names of the other graphs (CREATE GRAPH makes an empty one)."""
    total = count = 0
    blake = hashlib.blake2b
    for q in store:
        g = q.graph_name
        if isinstance(g, ox.NamedNode) and g.value == CURATOR_GRAPH:
            continue
        count += 1
        total = (total + int.from_bytes(blake(str(q).encode(), digest_size=8).digest(), "little")) & (2**64 - 1)
    graphs = tuple(sorted(str(g) for g in store.named_graphs() if str(g) != "<%s>" % CURATOR_GRAPH))
    return count, total, graphs


def _append(path: Path, record: dict) -> None:
    """Append one JSON line and fsync it (the audit log is append-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
    try:
        os.write(fd, orjson.dumps(record) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_audit(location: str) -> list[dict]:
    """Every record of the audit log, in order (a torn last line, from a crash mid-append, is skipped)."""
    try:
        lines = audit_path(location).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return out


def reconcile(location: str) -> None:
    """Close the `pending` records of writes a crash interrupted: `committed` when the served version
    is the one they published, `aborted` otherwise. Call under the publish lock."""
    records = read_audit(location)
    closed = {r.get("id") for r in records if r.get("event") in ("committed", "aborted")}
    served = current(Path(location))
    served_name = served.name if served is not None else None
    for r in records:
        if r.get("event") == "pending" and r.get("id") not in closed:
            done = r.get("version_dir") == served_name
            _append(audit_path(location), {
                "event": "committed" if done else "aborted", "id": r["id"], "t": _now(),
                "recovered": True, "graph_version": r.get("graph_version_after") if done else None})
            if done:  # the durable copy may predate the crash: take it from the served version
                _write_durably(curator_dir(location) / "graph.nt", carry_over(location) or b"")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_with_timeout(fn: Callable, timeout: float):
    if not timeout:
        return fn()
    future = _POOL.submit(fn)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise QueryTimeout("the write did not finish within %.1f s and was abandoned" % timeout, timeout) from None


def apply_write(location: str, change: Callable[[ox.Store], None], *, operation: str, who: str,
                client: str | None, what: str, timeout: float = 10.0,
                hook: Callable[[str], None] | None = None) -> dict:
    """Apply `change` (a function mutating a pyoxigraph store) as one curator write; return the
    committed audit record. Raises CuratorError (nothing changed) or StoreError.

    `hook(step)` is called at each step (tests use it to crash a write at a chosen point)."""
    if not is_embedded(location):
        raise CuratorError(501, "Not Implemented", "curator writes need the embedded store (KG_STORE is a "
                           "remote SPARQL server: write to it directly)", "curator-remote-store")
    hook = hook or (lambda step: None)
    root = Path(location)
    with publish_lock(location):
        reconcile(location)
        source_dir = current(root)
        if source_dir is None:
            raise StoreError("no built store at %s" % location)
        staging = staging_dir(root)
        published = abandoned = False
        try:
            source = ox.Store.read_only(str(source_dir))
            before_version = recorded_version(source)
            source.backup(str(staging))
            del source
            hook("copied")
            store = ox.Store(str(staging))
            before = _fingerprint(store)
            old_triples = _curated_triples(store)
            try:
                _run_with_timeout(functools.partial(engine_call, functools.partial(change, store)), timeout)
            except QueryTimeout:
                abandoned = True  # still running on its thread: its staging copy is left to a later prune
                raise
            except QuerySyntaxError as e:
                raise CuratorError(400, "Update syntax error", str(e)[:500], "update-syntax") from None
            except QueryUnsupported as e:
                raise CuratorError(400, "Update failed", str(e)[:500], "update-failed") from None
            hook("applied")
            if _fingerprint(store) != before:
                raise CuratorError(403, "Write outside the curator graph",
                                   "Curator writes may change only GRAPH <%s>; this one changed other data, "
                                   "so nothing was written." % CURATOR_GRAPH, "write-outside-curator-graph")
            curated = curated_ntriples(store)
            triples = curated.count(b"\n")
            write_id = uuid.uuid4().hex
            after_version = hashlib.sha256(("%s\n%s\n" % (before_version, write_id)).encode()
                                           + hashlib.sha256(curated).digest()).hexdigest()
            union = has_union_copy(store)
            if union:
                _sync_union(store, old_triples, _curated_triples(store))
            meta = ox.NamedNode(META_GRAPH)
            version_graphs = (meta, ox.DefaultGraph()) if union else (meta,)
            for g in version_graphs:
                for q in list(store.quads_for_pattern(None, ox.NamedNode(VERSION_PREDICATE), None, g)):
                    store.remove(q)
                store.add(ox.Quad(meta, ox.NamedNode(VERSION_PREDICATE), ox.Literal(after_version), g))
            named_quads = sum(1 for q in store if not isinstance(q.graph_name, ox.DefaultGraph))
            store.flush()
            del store
            write_facts(staging, after_version, named_quads)
            write_manifest(staging)
            final = final_dir(root, after_version)
            record = {"event": "pending", "id": write_id, "t": _now(), "who": who, "client": client,
                      "operation": operation, "graph": CURATOR_GRAPH, "what": what,
                      "what_sha256": hashlib.sha256(what.encode("utf-8", "surrogatepass")).hexdigest(),
                      "graph_version_before": before_version, "graph_version_after": after_version,
                      "version_dir": final.name, "triples_after": triples}
            hook("before-audit")
            _append(audit_path(location), record)
            hook("audited")
            place(staging, final)
            _write_durably(curator_dir(location) / "graph.nt", curated)
            hook("before-swap")
            swap_in(root, final)
            published = True
            hook("swapped")
            committed = {"event": "committed", "id": write_id, "t": _now(), "graph_version": after_version}
            _append(audit_path(location), committed)
            hook("committed")
        finally:
            if not published and not abandoned and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        prune(root, keep=final)
    return {**record, "event": "committed", "committed_at": committed["t"]}


def _curated_triples(store: ox.Store) -> set:
    return {ox.Triple(q.subject, q.predicate, q.object)
            for q in store.quads_for_pattern(None, None, None, ox.NamedNode(CURATOR_GRAPH))}


def _sync_union(store: ox.Store, old: set, new: set) -> None:
    """Keep the default graph the union of the named graphs (a published version materialises it):
    add what the curators added; remove what they removed unless another graph still holds it."""
    default = ox.DefaultGraph()
    for t in old - new:
        elsewhere = any(isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value != CURATOR_GRAPH
                        for q in store.quads_for_pattern(t.subject, t.predicate, t.object, None))
        if not elsewhere:
            store.remove(ox.Quad(t.subject, t.predicate, t.object, default))
    store.extend(ox.Quad(t.subject, t.predicate, t.object, default) for t in new - old)


# -- the changes ----------------------------------------------------------------------------------
def sparql_update(text: str) -> Callable[[ox.Store], None]:
    def change(store: ox.Store) -> None:
        store.update(text)
    return change


def replace_graph(triples: list) -> Callable[[ox.Store], None]:
    """Graph Store Protocol PUT: the curators' graph becomes `triples`."""
    def change(store: ox.Store) -> None:
        g = ox.NamedNode(CURATOR_GRAPH)
        if store.contains_named_graph(g):
            store.remove_graph(g)
        store.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in triples)
    return change


def add_triples(triples: list) -> Callable[[ox.Store], None]:
    """Graph Store Protocol POST: `triples` are added to the curators' graph."""
    def change(store: ox.Store) -> None:
        g = ox.NamedNode(CURATOR_GRAPH)
        store.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in triples)
    return change


def clear_graph() -> Callable[[ox.Store], None]:
    """Graph Store Protocol DELETE: the curators' graph is emptied."""
    def change(store: ox.Store) -> None:
        g = ox.NamedNode(CURATOR_GRAPH)
        if store.contains_named_graph(g):
            store.remove_graph(g)
    return change
