"""The embedded store's versioned layout on disk, in one place: builds (`EmbeddedStore.publish`) and
curator writes (`kg_service.curator.storage`) both stage a version, commit it and prune the old ones here.

Layout of a store location ``ROOT``::

    ROOT/.publish.lock           flock: one publisher (build or curator write) at a time
    ROOT/current -> versions/<version>-<n>   (a symlink, swapped atomically)
    ROOT/versions/<version>-<n>/ (a RocksDB directory, never written after it is placed)
    ROOT/versions/.staging-<pid>-<n>/        (a version being written; a killed writer's is pruned)
    ROOT/curator/graph.nt        the curators' graph as of the last committed write (durable copy)

A version is written and flushed in its staging directory, its files' checksums recorded and fsynced
(`integrity.write_manifest`), then *placed* (renamed into ``versions/``, directory fsynced) and
*swapped in* (a new symlink renamed over ``current``, directory fsynced): a writer killed at any point
leaves the previous version serving, and nothing half-written is ever served.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pyoxigraph as ox

from .base import GRAPH_BASE, StoreError
from .integrity import fsync_dir

KEEP_VERSIONS = 3
FACTS_FILE = "amlkg-version.json"  # written beside RocksDB's files: the version and its size
MANIFEST_FILE = "release-manifest.json"  # the build's release manifest (loaders/build.py), when it gave one
#: the graph curators write (`kg_service.curator`); a build keeps it
CURATOR_GRAPH = GRAPH_BASE + "curator"
_LOCAL_LOCK = threading.Lock()


def is_embedded(location: str) -> bool:
    return not str(location).startswith(("http://", "https://"))


@contextlib.contextmanager
def publish_lock(location: str):
    """Hold the store's publish lock (across processes: flock; across threads: a lock); a remote
    store has none here (its server orders the writes)."""
    if not is_embedded(location):
        yield
        return
    root = Path(location)
    root.mkdir(parents=True, exist_ok=True)
    with _LOCAL_LOCK:
        fd = os.open(root / ".publish.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def current_link(root: Path) -> Path:
    return Path(root) / "current"


def current(root: Path) -> Path | None:
    """The served version's directory, or None when nothing was published."""
    link = current_link(root)
    return Path(os.path.realpath(link)) if os.path.lexists(link) else None


def staging_dir(root: Path) -> Path:
    """A fresh staging directory's path under ``versions/`` (not created: RocksDB creates it)."""
    versions = Path(root) / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    return versions / (".staging-%d-%d" % (os.getpid(), time.time_ns()))


def final_dir(root: Path, version: str) -> Path:
    return Path(root) / "versions" / ("%s-%d" % (version[:16], time.time_ns()))


def write_facts(directory: Path, version: str, triples: int) -> None:
    """What a version is (its graph version and quads in the named graphs), read without opening it."""
    (Path(directory) / FACTS_FILE).write_text(json.dumps({"version": version, "triples": triples}))


def read_facts(directory: Path) -> dict:
    try:
        return json.loads((Path(directory) / FACTS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def place(staging: Path, final: Path) -> None:
    """Rename a finished (flushed, checksummed) staging directory into ``versions/``, durably."""
    os.rename(staging, final)
    fsync_dir(final.parent)


def swap_in(root: Path, final: Path) -> None:
    """Point ``current`` at `final` in one atomic, durable step (readers follow it on refresh)."""
    root = Path(root)
    tmp_link = root / (".current-%d-%d" % (os.getpid(), threading.get_ident()))
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(os.path.relpath(final, root), tmp_link)
    os.replace(tmp_link, current_link(root))
    fsync_dir(root)


def prune(root: Path, keep: Path) -> None:
    """Remove old version directories (and leftovers of killed writers), keeping the newest."""
    versions = Path(root) / "versions"
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for p in done[KEEP_VERSIONS:]:
        if p != keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in versions.glob(".staging-*"):
        pid = p.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def version_quads(directory: Path) -> list:
    """The quads of the named graphs of one version directory (a version the store keeps)."""
    try:
        store = ox.Store.read_only(str(directory))
    except (OSError, RuntimeError) as e:
        raise StoreError("the store version at %s cannot be opened (%s)"
                         % (Path(directory).name, str(e).splitlines()[0])) from None
    return [q for q in store if isinstance(q.graph_name, ox.NamedNode)]


def has_union_copy(store: ox.Store) -> bool:
    """A published version holds the union of its named graphs in the default graph."""
    return next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None) is not None


# -- the curators' graph across builds -------------------------------------------------------------
def curator_dir(location: str) -> Path:
    return Path(location) / "curator"


def curated_ntriples(store: ox.Store) -> bytes:
    """The curators' graph of a version, as N-Triples."""
    quads = store.quads_for_pattern(None, None, None, ox.NamedNode(CURATOR_GRAPH))
    return ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in quads),
                        format=ox.RdfFormat.N_TRIPLES)


def carry_over(location: str) -> bytes | None:
    """The curators' graph a new build must keep (N-Triples), or None when there is none.

    Read from the served version; from the durable copy when no version can be read."""
    if not is_embedded(location):
        return None
    served = current(Path(location))
    if served is not None:
        try:
            return curated_ntriples(ox.Store.read_only(str(served))) or None
        except (OSError, RuntimeError, ValueError):
            pass
    try:
        return (curator_dir(location) / "graph.nt").read_bytes() or None
    except FileNotFoundError:
        return None


def combined_version(version: str, curated: bytes | None) -> str:
    """The graph version of a build's sources together with the curators' graph."""
    if not curated:
        return version
    return hashlib.sha256(version.encode() + b"\n" + hashlib.sha256(curated).digest()).hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
