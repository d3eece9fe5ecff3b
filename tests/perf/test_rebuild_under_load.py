"""Rebuilding the store while the service answers: no failed or half-answered request.

A few clients send requests back to back (bounded: 3 keep-alive connections on loopback, for as
long as the rebuilds take) while `python -m kg_service build --store SAME` runs twice, and, in
between, a publish of a different graph version (the graph plus a small extra named graph), so the
served version really changes under load. Every answer must be complete and valid, and consistent
with the one graph version it names: an answer is never computed half on the old store and half on
the new one. No timing is asserted.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer, worker_pids

META = "https://w3id.org/amlkg/graph/meta"
EXTRA_GRAPH = "https://w3id.org/amlkg/graph/rebuild-test-extra"
# one query that reads the version and counts the triples of the same dataset: a half-switched
# answer would pair a version with another version's count
VERSION_AND_SIZE = ("SELECT ?v (COUNT(*) AS ?n) WHERE { GRAPH <%s> { ?g <https://w3id.org/amlkg/graphVersion> ?v } "
                    "GRAPH ?h { ?s ?p ?o } } GROUP BY ?v" % META)
CLIENTS = 3


@pytest.fixture()
def own_store(store_path, tmp_path) -> str:
    """A copy of the session's built store (its `current` link is relative), ours to rebuild."""
    root = tmp_path / "store"
    shutil.copytree(store_path, root, symlinks=True)
    return str(root)


class Client(threading.Thread):
    """Requests back to back on one keep-alive connection; records every answer's facts."""

    def __init__(self, port: int, n: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.n, self.stop = port, n, stop
        self.answers: list[tuple] = []   # (kind, status, version, detail)
        self.failures: list[str] = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = 0
        while not self.stop.is_set():
            i += 1
            kind = ("options", "sparql", "health")[i % 3]
            try:
                self.answers.append(self.one(conn, kind, i))
            except Exception as e:  # noqa: BLE001 - every failure is recorded and reported
                self.failures.append("%s #%d: %r" % (kind, i, e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()

    def one(self, conn, kind: str, i: int) -> tuple:
        if kind == "options":  # a profile never asked before: the finder runs options.rq
            path = "/api/options?" + urllib.parse.urlencode(
                {"status": "relapsed", "mutations": "IDH1", "remission_months": "%d.%06d" % (13, self.n * 100_000 + i)})
            accept = "application/json"
        elif kind == "sparql":  # a query text never sent before: no cache answers it
            path = "/sparql?" + urllib.parse.urlencode({"query": VERSION_AND_SIZE + " # %d-%d" % (self.n, i)})
            accept = "application/sparql-results+json"
        else:
            path, accept = "/health", "application/json"
        conn.request("GET", path, headers={"Accept": accept})
        r = conn.getresponse()
        body = r.read()
        length = r.getheader("Content-Length")
        if length is not None and int(length) != len(body):
            raise AssertionError("half an answer: %d of %s bytes" % (len(body), length))
        if r.status != 200:
            raise AssertionError("HTTP %d: %s" % (r.status, body[:300]))
        doc = json.loads(body)
        if kind == "options":
            assert doc["options"] and all(o["source"]["quote"] for o in doc["options"]), doc
            assert r.getheader("ETag").startswith('"%s-' % doc["graph_version"][:16]), r.getheader("ETag")
            return kind, r.status, doc["graph_version"], len(doc["options"])
        if kind == "sparql":
            rows = doc["results"]["bindings"]
            assert len(rows) == 1, rows
            return kind, r.status, rows[0]["v"]["value"], int(rows[0]["n"]["value"])
        return kind, r.status, doc["graph_version"], doc["triples"]


def _open_under(pid: int, directory: Path) -> bool:
    """Whether process `pid` holds a file of `directory` open (or mapped)."""
    prefix = str(directory.resolve()) + os.sep
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(prefix):
                    return True
            except OSError:
                continue
        with open("/proc/%d/maps" % pid) as f:
            return any(prefix in line for line in f)
    except OSError:
        return False


def _build(store: str, release: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kg_service", "build", "--store", store,
                           "--release-dir", str(release)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _publish_other_version(store: str) -> str:
    """Publish the served graphs plus a small extra graph under another version; that version."""
    import pyoxigraph as ox
    from kg_service.store.embedded import EmbeddedStore
    current = ox.Store.read_only(str(Path(store, "current").resolve()))
    graphs: dict[str, list[str]] = {}
    for q in current:
        if isinstance(q.graph_name, ox.NamedNode):
            graphs.setdefault(q.graph_name.value, []).append("%s %s %s ." % (q.subject, q.predicate, q.object))
    del current
    version = "rebuild-test-%d" % time.time_ns()
    data = {g: ("\n".join(lines) + "\n").encode() for g, lines in graphs.items()
            if g != META}  # the publish writes the version triple itself
    data[EXTRA_GRAPH] = b"".join(b"<urn:rebuild-test:s%d> <urn:rebuild-test:p> \"%d\" .\n" % (i, i) for i in range(50))
    writer = EmbeddedStore(store, read_only=False)
    try:
        writer.publish(data, version)
    finally:
        writer.close()
    return version


@pytest.mark.parametrize("memory_quads", ["0", None], ids=["on-disk", "copy-in-memory"])
def test_rebuild_while_serving_fails_no_request(own_store, tmp_path, memory_quads):
    """On disk (a store above KG_STORE_MEMORY_QUADS) and from a copy in memory (this graph, by default)."""
    env = {"KG_STORE_MEMORY_QUADS": memory_quads} if memory_quads else {}
    server = LiveServer(own_store, env=env, log_dir=tmp_path)
    stop = threading.Event()
    clients = [Client(server.port, n, stop) for n in range(CLIENTS)]
    try:
        with urllib.request.urlopen(server.url + "/health", timeout=10) as r:
            first = json.load(r)["graph_version"]
        targets = [Path(own_store, "current").resolve()]
        for c in clients:
            c.start()
        time.sleep(1.0)
        _build(own_store, tmp_path / "release-1")
        targets.append(Path(own_store, "current").resolve())
        time.sleep(1.5)
        other = _publish_other_version(own_store)
        targets.append(Path(own_store, "current").resolve())
        time.sleep(2.5)
        _build(own_store, tmp_path / "release-2")
        targets.append(Path(own_store, "current").resolve())
        time.sleep(2.5)
        workers = worker_pids(server.proc.pid)
        serving_newest = {pid: _open_under(pid, targets[-1]) for pid in workers}
        holding_any = {pid: _open_under(pid, Path(own_store)) for pid in workers}
    finally:
        stop.set()
        for c in clients:
            c.join(60)
        server.stop()

    failures = [f for c in clients for f in c.failures]
    answers = [a for c in clients for a in c.answers]
    assert not failures, "%d of %d requests failed:\n%s" % (len(failures), len(failures) + len(answers),
                                                             "\n".join(failures[:20]))
    assert len(answers) > 100, len(answers)
    assert len(set(targets)) == 4, targets                    # each build wrote and switched to a new version
    versions = {a[2] for a in answers}
    assert versions == {first, other}, versions               # the changed version reached the workers
    # every answer is consistent with the one version it names
    size = {}
    for kind, _status, version, detail in answers:
        if kind in ("sparql", "health"):
            size.setdefault((kind, version), set()).add(detail)
    for (kind, version), sizes in size.items():
        assert len(sizes) == 1, (kind, version, sizes)
    assert size[("sparql", other)] != size[("sparql", first)]
    options = {v: {d for k, _s, vv, d in answers if k == "options" and vv == v} for v in versions}
    assert all(len(counts) == 1 for counts in options.values()), options
    # the version changes only between requests, and once per switch: a client keeps its connection,
    # so one worker answers it, and that worker goes from the first version to the other and back
    for c in clients:
        seq = [a[2] for a in c.answers]
        switches = sum(1 for x, y in zip(seq, seq[1:]) if x != y)
        assert switches <= 2, (switches, [v[:8] for v in seq])
    if memory_quads is None:  # each worker answers from its copy: no version's files stay open
        assert holding_any and not any(holding_any.values()), holding_any
    else:
        # workers follow the newest build when they next answer; keep-alive clients may all sit on one
        # worker, so an idle worker can still hold the previous version open until its next request
        assert serving_newest and any(serving_newest.values()), serving_newest
    print("%d answers, none failed, across 4 published versions (%s, %s, then two rebuilds of %s)"
          % (len(answers), first[:8], other[:20], first[:8]))
