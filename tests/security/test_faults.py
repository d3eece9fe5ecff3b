"""Fault tolerance: a missing or corrupt store at start, a build killed (SIGKILL) at every step, a full
disk during a build, a server killed with SIGKILL and started again, a remote backend going down.
Each test shows that what was served (acknowledged) before the fault is served, unchanged, after it."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from kg_service.store.integrity import MANIFEST, StoreCorrupt, check_store

from .support import (ServeProcess, curated_values, curator_update, http, served_version, sparql, TOKEN,
                      CURATOR, wait_until_gone)

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("build_runner.py")
EVIDENCE = ("SELECT ?r ?q WHERE { ?r <http://www.w3.org/ns/oa#hasTarget>/<http://www.w3.org/ns/oa#hasSelector>"
            "/<http://www.w3.org/ns/oa#exact> ?q } ORDER BY ?r ?q")
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def answers(base: str) -> str:
    """A digest of what the server answers about the graph (every quote, and the size): equal digests,
    same served graph."""
    parts = []
    for q in (COUNT, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"):
        status, doc = sparql(base, q)
        assert status == 200, doc
        parts.append(json.dumps(doc["results"]["bindings"], sort_keys=True))
    status, _h, body = http("GET", base + "/api/options?status=relapsed&mutations=IDH1")
    assert status == 200
    parts.append(json.dumps([o["source"]["quote"] for o in json.loads(body)["options"]]))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def health(base: str) -> dict:
    status, _h, body = http("GET", base + "/health")
    assert status == 200, body
    return json.loads(body)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- start-up -------------------------------------------------------------------------------------
def run_serve(store: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kg_service", "serve", "--port", "1", "--store", store],
                          cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)


def test_missing_store_with_build_off_is_one_line_and_exit_2(tmp_path):
    r = run_serve(str(tmp_path / "nothing"), {"KG_BUILD_IF_MISSING": "false"})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no built store at ") and "KG_BUILD_IF_MISSING" in lines[0]
    assert not (tmp_path / "nothing").exists()   # nothing was built


def test_missing_store_is_built_by_default(tmp_path):
    store = str(tmp_path / "fresh")
    with ServeProcess(store, env={"KG_REQUEST_LOG": "off"}).start(timeout=120) as server:
        assert health(server.url)["triples"] > 1000
    assert "no store at %s: building it first" % store in server.output()


def _largest_sst(store: str) -> Path:
    return max(Path(os.path.realpath(Path(store) / "current")).glob("*.sst"), key=lambda p: p.stat().st_size)


def _flip_byte(store: str):
    sst = _largest_sst(store)
    data = bytearray(sst.read_bytes())
    data[len(data) // 2] ^= 0x01      # inside a data block: RocksDB itself opens this store happily
    sst.write_bytes(bytes(data))


def _truncate(store: str):
    sst = _largest_sst(store)
    sst.write_bytes(sst.read_bytes()[: sst.stat().st_size // 2])


def _delete(name_glob: str):
    def corrupt(store: str):
        for p in Path(os.path.realpath(Path(store) / "current")).glob(name_glob):
            p.unlink()
    return corrupt


def _dangling(store: str):
    shutil.rmtree(os.path.realpath(Path(store) / "current"))


def _garbage_manifest(store: str):
    (Path(os.path.realpath(Path(store) / "current")) / MANIFEST).write_text("{not json")


CORRUPTIONS = {"flipped-byte": _flip_byte, "truncated-sst": _truncate, "no-MANIFEST": _delete("MANIFEST-*"),
               "no-CURRENT": _delete("CURRENT"), "dangling-current": _dangling, "garbage-manifest": _garbage_manifest}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_store_is_refused_at_start(own_store, corruption):
    """A damaged store is not served: `serve` exits 2 with one line naming the problem and the fix."""
    CORRUPTIONS[corruption](own_store)
    with pytest.raises(StoreCorrupt):
        check_store(own_store)
    r = run_serve(own_store, {"KG_BUILD_IF_MISSING": "true"})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: the store at %s is corrupt: " % own_store)
    assert lines[0].endswith("rebuild it with `python -m kg_service build --store %s`" % own_store)


def test_a_corrupt_store_is_rebuilt_when_configured(own_store):
    before = served_version(own_store)
    _flip_byte(own_store)
    with ServeProcess(own_store, env={"KG_REBUILD_IF_CORRUPT": "true", "KG_REQUEST_LOG": "off"}).start(timeout=120) as s:
        assert health(s.url)["triples"] > 1000
        assert "KG_REBUILD_IF_CORRUPT is on: rebuilding" in s.output()
    assert served_version(own_store) != before
    check_store(own_store)


# -- builds killed --------------------------------------------------------------------------------
POINTS = ["checks", "loaded", "shacl", "reasoned", "qc", "staged", "renamed", "swapping", "release"]


def start_build(store: str, point: str, release_dir: str | None = None) -> subprocess.Popen:
    args = [sys.executable, str(RUNNER), store, point] + ([release_dir] if release_dir else [])
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def kill_at(proc: subprocess.Popen, point: str) -> list[str]:
    seen = []
    for line in proc.stdout:
        seen.append(line.rstrip())
        if line.startswith("PAUSED %s" % point):
            break
        assert not line.startswith("DONE"), seen
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return seen


@pytest.fixture()
def serving(own_store):
    server = ServeProcess(own_store, env={"KG_REQUEST_LOG": "off"}).start()
    yield own_store, server
    server.stop()


def test_a_build_killed_at_any_step_leaves_the_previous_store_serving(serving, tmp_path):
    """SIGKILL a rebuild at each of its steps (and inside the publish: staged, renamed, mid-swap): the
    server keeps answering from the previous version, exactly as before; the next build completes and
    is served; killed builds leave no staging directories behind after it."""
    store, server = serving
    before_version, before = served_version(store), answers(server.url)
    for point in POINTS[:-1]:
        seen = kill_at(start_build(store, point), point)
        assert served_version(store) == before_version, (point, seen)
        assert answers(server.url) == before, point
        check_store(store)
    proc = start_build(store, "none")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0 and "DONE" in out, out
    assert wait_until(lambda: health(server.url)["graph_version"] and served_version(store) != before_version)
    assert wait_until(lambda: answers(server.url) == before)   # same sources, same answers
    assert not list((Path(store) / "versions").glob(".staging-*"))


def test_a_build_killed_after_the_swap_serves_the_new_version_whole(serving, tmp_path):
    """Killed while writing the release files (after the swap): the new version is complete and served."""
    store, server = serving
    before_version, before = served_version(store), answers(server.url)
    kill_at(start_build(store, "release", str(tmp_path / "release")), "release")
    assert served_version(store) != before_version
    check_store(store)
    assert wait_until(lambda: answers(server.url) == before)


def test_a_build_killed_at_random_moments_of_the_publish(serving):
    """Timed kills inside the publish step (bulk load, flush, optimize): never a damaged served store."""
    store, server = serving
    before = answers(server.url)
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6):
        proc = start_build(store, "none")
        for line in proc.stdout:
            if line.startswith("[5/7]"):
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        check_store(store)
        assert wait_until(lambda: answers(server.url) == before), delay


# -- disk full ------------------------------------------------------------------------------------
def test_disk_full_during_a_build_leaves_the_old_store_intact(store_path, tmp_path):
    """A real full disk: the store on a small tmpfs (root only; skipped where mounting is not allowed).
    The rebuild fails with a clear message and the old version keeps serving."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    size_kb = 200 + sum(p.stat().st_size for p in Path(os.path.realpath(Path(store_path) / "current")).iterdir()) // 1024
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % size_kb, "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (%s); test_a_file_size_limit_… simulates the full disk instead"
                    % r.stderr.decode().strip())
    try:
        store = str(mnt / "store")
        os.makedirs(store + "/versions")
        shutil.copytree(os.path.realpath(Path(store_path) / "current"),
                        Path(store) / "versions" / os.path.basename(os.path.realpath(Path(store_path) / "current")))
        os.symlink(os.path.relpath(Path(store) / "versions" / os.path.basename(os.path.realpath(
            Path(store_path) / "current")), store), Path(store) / "current")
        with ServeProcess(store, env={"KG_REQUEST_LOG": "off"}, log=tmp_path / "serve.log").start() as server:
            before_version, before = served_version(store), answers(server.url)
            proc = subprocess.run([sys.executable, "-m", "kg_service", "build", "--store", store,
                                   "--release-dir", str(mnt / "release")], cwd=REPO, capture_output=True,
                                  text=True, timeout=300)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert "build failed: " in proc.stderr and "No space left on device" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr
            assert served_version(store) == before_version
            check_store(store)
            assert answers(server.url) == before
            assert not list((Path(store) / "versions").glob(".staging-*"))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_write_error_mid_publish_leaves_the_old_store_intact(serving, tmp_path):
    """The same without mounting: the publish step runs with a file-size limit (RLIMIT_FSIZE), so
    RocksDB's writes fail part-way (EFBIG, as ENOSPC would); the old version keeps serving, nothing is
    left over."""
    store, server = serving
    before_version, before = served_version(store), answers(server.url)
    proc = start_build(store, "full-disk")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1, out
    failed = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert failed and failed[0].startswith("FAILED publishing to %s failed (" % store), out
    assert "the previous version, if any, is still served" in failed[0]
    assert served_version(store) == before_version
    check_store(store)
    assert answers(server.url) == before
    assert not list((Path(store) / "versions").glob(".staging-*"))


# -- the server killed ----------------------------------------------------------------------------
def test_the_server_restarts_cleanly_after_sigkill_and_keeps_acknowledged_writes(own_store):
    """kill -9 of the whole server (master and workers) right after acknowledged curator writes; the
    restarted server, same port, serves the same version with every acknowledged write; repeated."""
    env = {"KG_CURATOR_TOKEN": TOKEN, "KG_REQUEST_LOG": "off"}
    server = ServeProcess(own_store, env=env).start()
    acknowledged = set()
    try:
        for round_ in range(3):
            for i in range(3):
                value = "round %d write %d" % (round_, i)
                status, body = curator_update(server.url, 'INSERT DATA { GRAPH <%s> { <urn:amlkg-test:s> '
                                              '<urn:amlkg-test:note> "%s" } }' % (CURATOR, value))
                assert status == 200, body
                acknowledged.add(value)
            version = served_version(own_store)
            server.kill9()
            server = ServeProcess(own_store, env=env, port=server.port).start()
            assert served_version(own_store) == version
            assert curated_values(server.url) == acknowledged
    finally:
        server.stop()


def test_the_server_restarts_after_its_master_alone_is_killed(own_store):
    """Only the master SIGKILLed (orphaned workers notice and leave): a new server takes the same port."""
    server = ServeProcess(own_store, env={"KG_REQUEST_LOG": "off"}).start()
    before = answers(server.url)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    # the orphans leave (granian instances get SIGTERM when their supervisor dies, finish in-flight
    # answers, and stop): until then one of them may still answer on the port, so a new server's
    # readiness is only its own once they are gone
    assert wait_until_gone(server.proc.pid) == [], "orphaned workers still running 20 s after their master died"
    restarted = ServeProcess(own_store, env={"KG_REQUEST_LOG": "off"}, port=server.port).start(timeout=90)
    try:
        assert answers(restarted.url) == before
    finally:
        restarted.stop()
        try:
            os.killpg(server.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, AttributeError):
            pass


# -- a remote backend down ------------------------------------------------------------------------
def test_a_remote_backend_going_down_is_503_then_recovers(store_path, tmp_path):
    """KG_STORE is an `oxigraph serve`: when it stops, every route answers 503 problem+json with
    Retry-After (never a 500, never a hang); when it is back, the same data is served again."""
    from tests.store.store_support import OxigraphServer, publish_remote

    from kg_service.store import open_store
    local = open_store(store_path, read_only=True)
    graphs = {}
    for g in local.named_graphs():
        data = local.construct("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%s> { ?s ?p ?o } }" % g)
        graphs[g] = data.serialize(format="nt", encoding="utf-8")
    version = local.graph_version()
    oxigraph = OxigraphServer(tmp_path / "oxigraph-db").start()
    server = None
    try:
        url = publish_remote(oxigraph, graphs, version)
        env = {"KG_STORE": url, "KG_REQUEST_LOG": "off", "KG_STORE_RETRIES": "1", "KG_REFRESH_INTERVAL": "0.2"}
        server = ServeProcess(url, env=env, log=tmp_path / "serve.log").start()
        before = answers(server.url)
        oxigraph.stop()
        # a profile whose conditions the worker has not read ahead (its snapshot holds the single values'
        # parts, which it answers from memory while the version it last saw stands)
        for path in ("/health", "/api/options?status=relapsed&mutations=FLT3,IDH1&remission_months=7.25",
                     "/sparql?" + urllib.parse.urlencode({"query": "SELECT * { ?s ?p ?o } LIMIT 7"}),
                     "/api/queries/targeted-drugs"):
            t0 = time.monotonic()
            status, headers, body = http("GET", server.url + path, headers={"Accept": "application/json"})
            assert status == 503, (path, status, body[:200])
            assert headers["Content-Type"].startswith("application/problem+json") and int(headers["Retry-After"]) >= 1
            assert time.monotonic() - t0 < 10
        oxigraph.start()
        assert wait_until(lambda: http("GET", server.url + "/health")[0] == 200, timeout=30)
        assert answers(server.url) == before
    finally:
        if server:
            server.stop()
        oxigraph.stop()


def test_serve_starts_while_the_remote_backend_is_down(tmp_path):
    """A remote store that is down at start is reported on one line; the service answers 503 until it is up."""
    from tests.conftest import free_port
    url = "http://127.0.0.1:%d/query" % free_port()
    with ServeProcess(url, env={"KG_STORE": url, "KG_REQUEST_LOG": "off", "KG_STORE_RETRIES": "0"},
                      log=tmp_path / "serve.log").start(wait=False) as server:
        assert wait_until(lambda: _answers_503(server.url), timeout=60)
        assert "warning: the store at %s does not answer" % url in server.output()


def test_serve_refuses_a_remote_store_without_our_graphs(tmp_path):
    """A SPARQL server that answers but holds no build of ours (never built into, or a build's graph
    missing) stops `serve` with one line and exit 2: it would answer every question with nothing."""
    from tests.store.store_support import OxigraphServer

    from kg_service.store import META_GRAPH
    oxigraph = OxigraphServer(tmp_path / "oxigraph-db").start()
    try:
        r = run_serve(oxigraph.query_url, {"KG_REQUEST_LOG": "off"})
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith("error: the SPARQL server at %s holds no amlkg build" % oxigraph.query_url)
        assert "python -m kg_service build --store %s" % oxigraph.query_url in lines[0]

        listed = "https://w3id.org/amlkg/graph/acs2022"
        oxigraph.update('INSERT DATA { GRAPH <%s> { <%s> <https://w3id.org/amlkg/graphVersion> "v1" . '
                        '<%s> a <http://www.w3.org/ns/prov#Entity> } }' % (META_GRAPH, META_GRAPH, listed))
        r = run_serve(oxigraph.query_url, {"KG_REQUEST_LOG": "off"})
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "lacks 1 of the graphs its build lists (<%s>)" % listed in lines[0]
    finally:
        oxigraph.stop()


def _answers_503(base: str) -> bool:
    try:
        return http("GET", base + "/health", timeout=5)[0] == 503
    except OSError:
        return False
