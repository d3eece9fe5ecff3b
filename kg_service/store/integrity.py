"""Is the embedded store on disk whole? A checksum manifest written with every published version, and
the start-up check that `serve` runs before it accepts a request.

RocksDB notices a damaged file header when it opens a store, but a flipped byte inside a data block
is found only when a query happens to read that block, possibly long after start-up, possibly never
for the block that lost a triple. So publishing writes ``AMLKG-MANIFEST.json`` into the version
directory (size and SHA-256 of every file, each fsynced), and `check_store` compares them before
serving: a corrupt store stops `serve` with one line naming the file, rather than being served.

Files RocksDB itself rewrites when a store is opened read-only (its info ``LOG`` and ``LOCK``) are
left out of the manifest.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .base import StoreError, store_query

MANIFEST = "AMLKG-MANIFEST.json"
_UNTRACKED = re.compile(r"^(LOG(\.old\..*)?|LOCK|%s(\.tmp)?)$" % re.escape(MANIFEST))


class StoreMissing(StoreError):
    """There is no built store at the location."""


class StoreCorrupt(StoreError):
    """The store exists but cannot be trusted: a file is damaged or missing, or the build never finished."""


@dataclass(frozen=True)
class StoreState:
    location: str
    version_dir: str
    graph_version: str
    triples: int
    manifest: bool


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(directory: Path) -> Path:
    """Fsync every file of a closed store directory and record its size and SHA-256.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "000001.sst").write_bytes(b"data")
    ...     _ = write_manifest(Path(d))
    ...     verify_manifest(Path(d))
    []
    """
    directory = Path(directory)
    files = {}
    for p in sorted(directory.iterdir()):
        if not p.is_file() or _UNTRACKED.match(p.name):
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        files[p.name] = {"size": p.stat().st_size, "sha256": _sha256(p)}
    tmp = directory / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"format": 1, "files": files}, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / MANIFEST)
    fsync_dir(directory)
    return directory / MANIFEST


def verify_manifest(directory: Path) -> list[str] | None:
    """Problems found against the manifest ([] when whole), or None when the directory has none."""
    path = Path(directory) / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = doc["files"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError) as e:
        return ["%s is unreadable (%s)" % (MANIFEST, e)]
    problems = []
    for name, want in sorted(files.items()):
        p = Path(directory) / name
        try:
            size = p.stat().st_size
        except OSError:
            problems.append("%s is missing" % name)
            continue
        if size != want["size"]:
            problems.append("%s has %d bytes, %d were written" % (name, size, want["size"]))
        elif _sha256(p) != want["sha256"]:
            problems.append("%s does not match its checksum" % name)
    return problems


def check_store(location: str) -> StoreState:
    """Check the embedded store at `location` before serving it: raise StoreMissing or StoreCorrupt
    with a one-line message saying what is wrong and what to do."""
    import pyoxigraph as ox


    root = Path(location)
    link = root / "current"
    fix = "rebuild it with `python -m kg_service build --store %s`" % location
    if not os.path.lexists(link):
        raise StoreMissing("no built store at %s: run `python -m kg_service build --store %s`"
                           % (location, location))
    target = Path(os.path.realpath(link))
    if not target.is_dir():
        raise StoreCorrupt("the store at %s is corrupt: `current` points to %s, which does not exist; %s"
                           % (location, target, fix))
    problems = verify_manifest(target)
    if problems:
        raise StoreCorrupt("the store at %s is corrupt: %s%s; %s" % (
            location, "; ".join(problems[:3]), " (and %d more)" % (len(problems) - 3) if len(problems) > 3 else "",
            fix))
    try:
        store = ox.Store.read_only(str(target))
        version = recorded_version(store)
        triples = len(store)
    except (OSError, RuntimeError, ValueError) as e:
        raise StoreCorrupt("the store at %s is corrupt: %s; %s"
                           % (location, one_line(str(e)), fix)) from None
    if not version:
        raise StoreCorrupt("the store at %s is corrupt: it records no graph version (not a finished build); %s"
                           % (location, fix))
    return StoreState(location, str(target), version, triples, problems is not None)


def recorded_version(store) -> str:
    """The version a build (or curator write) recorded in a pyoxigraph store's meta graph ("" when
    there is none)."""
    rows = list(store.query(store_query("graph-version")))
    return rows[0]["v"].value if rows else ""


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, cut to `limit` characters.

    >>> one_line("Corruption: bad block\\n  in file 0001.sst")
    'Corruption: bad block in file 0001.sst'
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
