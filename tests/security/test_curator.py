"""Optional curator writes (kg_service/curator/): off by default; a bearer token; confined to the
curators' graph whatever the update says; no fetching (LOAD/SERVICE); atomic and durable (a crash at
any step of a write loses nothing acknowledged and serves nothing half-written); every write audited;
kept across rebuilds; never through the public /sparql."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kg_service.curator.storage import CURATOR_GRAPH, read_audit
from kg_service.store.integrity import check_store

from .support import TOKEN, ServeProcess, curated_values, curator_update, served_version

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("curator_runner.py")
AUTH = {"Authorization": "Bearer " + TOKEN}
G = "https://w3id.org/amlkg/graph/"


def note(value: str) -> str:
    return 'INSERT DATA { GRAPH <%s> { <urn:amlkg-test:s> <urn:amlkg-test:note> "%s" } }' % (CURATOR_GRAPH, value)


@pytest.fixture()
def curator_app(make_app, own_store):
    return make_app(KG_STORE=own_store, KG_CURATOR_TOKEN=TOKEN, KG_CURATOR_NAME="ana")


def update(client, text: str, headers=AUTH):
    return client.post("/curator/update", data=text, content_type="application/sparql-update", headers=headers)


# -- off by default, authentication ---------------------------------------------------------------
def test_off_by_default(make_app):
    client = make_app().test_client()
    assert update(client, note("x")).status_code == 404
    assert client.put("/curator/graph", data="<urn:a> <urn:b> <urn:c> .", headers=AUTH).status_code == 404


def test_a_short_token_refuses_to_start(make_app):
    with pytest.raises(RuntimeError, match="at least 16 characters"):
        make_app(KG_CURATOR_TOKEN="short")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic " + TOKEN, "Bearer " + TOKEN[:-1],
                                    "Bearer " + TOKEN + "x", "bearer" + TOKEN, "Bearer \u00e9" + TOKEN])
def test_every_request_needs_the_token(curator_app, header):
    client = curator_app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    for resp in (update(client, note("x"), headers), client.get("/curator/graph", headers=headers),
                 client.delete("/curator/graph", headers=headers)):
        assert resp.status_code == 401 and resp.mimetype == "application/problem+json"
        assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="amlkg-curator"')
    assert read_audit(curator_app.config["KG_STORE"]) == []


def test_the_public_endpoint_stays_read_only_with_curators_on(curator_app):
    client = curator_app.test_client()
    for resp in (client.post("/sparql", data={"update": note("x")}, headers=AUTH),
                 client.post("/sparql", data=note("x"), content_type="application/sparql-update", headers=AUTH),
                 client.post("/sparql", data={"query": note("x")}, headers=AUTH)):
        assert resp.status_code == 403
    assert read_audit(curator_app.config["KG_STORE"]) == []


# -- confinement ----------------------------------------------------------------------------------
ESCAPES = {
    "default graph": "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "a source graph": "INSERT DATA { GRAPH <%sacs2022> { <urn:a> <urn:b> <urn:c> } }" % G,
    "delete everywhere": "DELETE WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?o }",
    "delete in a graph": "DELETE WHERE { GRAPH <%sontology> { ?s ?p ?o } }" % G,
    "drop all": "DROP ALL",
    "clear default": "CLEAR DEFAULT",
    "drop named": "DROP NAMED",
    "drop a graph": "DROP GRAPH <%sfda-approvals>" % G,
    "move into a source": note("x") + " ; MOVE GRAPH <%s> TO GRAPH <%sacs2022>" % (CURATOR_GRAPH, G),
    "copy over meta": "COPY GRAPH <%s> TO GRAPH <%smeta>" % (CURATOR_GRAPH, G),
    "add to default": note("x") + " ; ADD GRAPH <%s> TO DEFAULT" % CURATOR_GRAPH,
    "insert by template": "INSERT { ?s <urn:amlkg-test:x> ?o } WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?o }",
    "with a source": "WITH <%sacs2022> INSERT { <urn:a> <urn:b> <urn:c> } WHERE {}" % G,
    "create a graph": "CREATE GRAPH <urn:amlkg-test:new>",
    "curator then escape": note("fine") + " ; INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "rewrite the version": "DELETE WHERE { GRAPH <%smeta> { ?g <https://w3id.org/amlkg/graphVersion> ?v } }" % G,
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_writes_outside_the_curator_graph_are_refused_whole(curator_app, case):
    store = curator_app.config["KG_STORE"]
    client = curator_app.test_client()
    before, health = served_version(store), client.get("/health").get_json()
    resp = update(client, ESCAPES[case])
    assert resp.status_code == 403, resp.data
    assert resp.get_json()["type"].endswith("write-outside-curator-graph")
    assert served_version(store) == before and client.get("/health").get_json() == health
    assert read_audit(store) == []


@pytest.mark.parametrize("text", [
    "LOAD <http://127.0.0.1:9/evil.ttl> INTO GRAPH <%s>" % CURATOR_GRAPH,
    "LOAD<file:///etc/passwd>",
    "load silent <http://169.254.169.254/latest/meta-data/>",
    "INSERT { GRAPH <%s> { ?s ?p ?o } } WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }" % CURATOR_GRAPH,
    "INSERT { GRAPH <%s> { ?s ?p ?o } } WHERE { ?s ?p ?o .SERVICE<http://127.0.0.1:9/> {} }" % CURATOR_GRAPH,
])
def test_load_and_service_are_refused_before_anything_runs(curator_app, text):
    resp = update(curator_app.test_client(), text)
    assert resp.status_code == 403 and resp.get_json()["type"].endswith("network-refused")


def test_graph_store_protocol_on_other_graphs_is_refused(curator_app):
    client = curator_app.test_client()
    for query in ("?graph=%sacs2022" % G, "?default", "?graph=%s&graph=%smeta" % (CURATOR_GRAPH, G)):
        for method in ("PUT", "POST", "DELETE", "GET"):
            resp = client.open("/curator/graph" + query, method=method, data="<urn:a> <urn:b> <urn:c> .",
                               content_type="application/n-triples", headers=AUTH)
            assert resp.status_code == 403, (method, query)


def test_malformed_writes_are_400_and_change_nothing(curator_app):
    client = curator_app.test_client()
    store = curator_app.config["KG_STORE"]
    before = served_version(store)
    assert update(client, "INSERT DATA { GRAPH <%s> { <urn:a> <urn:b> " % CURATOR_GRAPH).status_code == 400
    assert update(client, "").status_code == 400
    assert update(client, "MOVE GRAPH <urn:amlkg-test:none> TO GRAPH <%s>" % CURATOR_GRAPH).status_code == 400
    assert update(client, "{" * 200 + "}" * 200).status_code == 400
    assert client.put("/curator/graph", data="<urn:a> <urn:b> .", content_type="text/turtle",
                      headers=AUTH).status_code == 400
    assert client.put("/curator/graph", data="{}", content_type="application/ld+json",
                      headers=AUTH).status_code == 415
    assert served_version(store) == before and read_audit(store) == []


# -- what a write does ----------------------------------------------------------------------------
def test_a_write_is_served_audited_and_atomic(curator_app):
    client = curator_app.test_client()
    store = curator_app.config["KG_STORE"]
    before_version = client.get("/health").get_json()["graph_version"]
    resp = update(client, note("second-line therapy note"))
    assert resp.status_code == 200, resp.data
    ack = resp.get_json()
    assert ack["who"] == "ana" and ack["graph"] == CURATOR_GRAPH and ack["graph_version_before"] == before_version
    assert client.get("/health").get_json()["graph_version"] == ack["graph_version_after"]
    rows = client.get("/sparql", query_string={"query": "SELECT ?o WHERE { ?s <urn:amlkg-test:note> ?o }"},
                      headers={"Accept": "application/sparql-results+json"}).get_json()["results"]["bindings"]
    assert [r["o"]["value"] for r in rows] == ["second-line therapy note"]   # in the union, too
    records = read_audit(store)
    assert [r["event"] for r in records] == ["pending", "committed"]
    pending = records[0]
    assert pending["id"] == ack["id"] and pending["who"] == "ana" and pending["client"] == "127.0.0.1"
    assert pending["what"] == note("second-line therapy note") and pending["t"].endswith("Z")
    assert (Path(store) / "curator" / "graph.nt").read_text().count("\n") == ack["triples_after"]
    check_store(store)
    assert TOKEN not in (Path(store) / "curator" / "audit.jsonl").read_text()


def test_graph_store_protocol_on_the_curator_graph(curator_app):
    client = curator_app.test_client()
    nt = "application/n-triples"
    assert client.put("/curator/graph", data='<urn:a> <urn:amlkg-test:note> "one" .\n', content_type=nt,
                      headers=AUTH).status_code == 200
    assert client.post("/curator/graph?graph=" + CURATOR_GRAPH, data='<urn:a> <urn:amlkg-test:note> "two" .',
                       content_type="text/turtle", headers=AUTH).status_code == 200
    assert sorted(client.get("/curator/graph", headers=AUTH).data.decode().splitlines()) == [
        '<urn:a> <urn:amlkg-test:note> "one" .', '<urn:a> <urn:amlkg-test:note> "two" .']
    assert client.put("/curator/graph", data='<urn:a> <urn:amlkg-test:note> "three" .', content_type=nt,
                      headers=AUTH).status_code == 200
    assert client.get("/curator/graph", headers=AUTH).data.decode().strip() == '<urn:a> <urn:amlkg-test:note> "three" .'
    assert client.delete("/curator/graph", headers=AUTH).status_code == 200
    assert client.get("/curator/graph", headers=AUTH).data == b""
    assert [r["operation"] for r in read_audit(curator_app.config["KG_STORE"]) if r["event"] == "pending"] == [
        "gsp-put", "gsp-post", "gsp-put", "gsp-delete"]


def test_a_rebuild_keeps_the_curator_graph(curator_app):
    from loaders.build import build
    client = curator_app.test_client()
    store = curator_app.config["KG_STORE"]
    assert update(client, note("kept")).status_code == 200
    before = served_version(store)
    build(store, release_dir=None, log=lambda *a: None)
    assert served_version(store) != before
    client.application.extensions["amlkg_store"].get().refresh()
    assert client.get("/curator/graph", headers=AUTH).data.decode().strip() == \
        '<urn:amlkg-test:s> <urn:amlkg-test:note> "kept" .'


# -- durability: crashes at every step of a write -------------------------------------------------
STEPS = ["copied", "applied", "before-audit", "audited", "before-swap", "swapped", "committed"]


def run_write(store: str, step: str, value: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, str(RUNNER), store, step, value], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.startswith(("PAUSED", "ACK")):
            break
    return proc, seen


def served_notes(store: str) -> set[str]:
    from kg_service.store import open_store
    with open_store(store, read_only=True) as s:
        return {str(r["o"]) for r in s.select("SELECT ?o WHERE { GRAPH <%s> { ?s <urn:amlkg-test:note> ?o } }"
                                              % CURATOR_GRAPH)}


def test_a_write_killed_at_any_step_loses_nothing_acknowledged(own_store):
    """SIGKILL a write at each of its steps. Before the swap, the served graph is the previous one;
    from the swap on, it has the write; never anything in between. Every acknowledged write survives
    every later crash, the audit log closes every interrupted write (committed or aborted), and the
    store stays whole."""
    acknowledged = set()
    for i, step in enumerate(STEPS):
        proc, seen = run_write(own_store, "none", "ack-%d" % i)
        assert seen[-1].startswith("ACK"), seen
        proc.wait(60)
        acknowledged.add("ack-%d" % i)
        proc, seen = run_write(own_store, step, "crash-%d" % i)
        assert seen[-1] == "PAUSED " + step, seen
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        notes = served_notes(own_store)
        assert acknowledged <= notes
        assert ("crash-%d" % i in notes) == (step in ("swapped", "committed")), (step, notes)
        check_store(own_store)
    proc, seen = run_write(own_store, "none", "last")     # reconciles the interrupted records
    proc.wait(60)
    records = read_audit(own_store)
    pending = {r["id"]: r for r in records if r["event"] == "pending"}
    closed = {r["id"]: r for r in records if r["event"] in ("committed", "aborted")}
    assert set(pending) == set(closed)                    # every write is closed in the log
    committed_values = {pending[i]["what"].split('"')[1] for i, r in closed.items() if r["event"] == "committed"}
    assert committed_values == served_notes(own_store)   # the log and the store agree


def test_concurrent_writes_over_http_lose_nothing(curator_server):
    """24 writes from 8 threads across 2 workers: every acknowledged one is served afterwards (the
    publish lock serialises writers, so none works from a stale copy)."""
    results, lock = [], threading.Lock()

    def writer(n):
        for k in range(3):
            value = "w%d-%d" % (n, k)
            status, body = curator_update(curator_server.url, note(value))
            with lock:
                results.append((status, value))
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    acknowledged = {v for s, v in results if s == 200}
    assert len(acknowledged) == 24, results
    deadline = time.monotonic() + 10
    while curated_values(curator_server.url) != acknowledged and time.monotonic() < deadline:
        time.sleep(0.2)
    assert curated_values(curator_server.url) == acknowledged
    records = read_audit(curator_server.store)
    assert sum(r["event"] == "committed" for r in records) == 24
    assert all(r.get("who") == "test-curator" for r in records if r["event"] == "pending")


def test_a_runaway_update_is_cut_and_changes_nothing(own_store):
    env = {"KG_CURATOR_TOKEN": TOKEN, "KG_QUERY_TIMEOUT": "1", "KG_REQUEST_LOG": "off"}
    with ServeProcess(own_store, env=env).start() as server:
        before = served_version(own_store)
        status, body = curator_update(server.url, "INSERT { GRAPH <%s> { ?a <urn:amlkg-test:note> ?d } } WHERE "
                                      "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }" % CURATOR_GRAPH)
        assert status == 504 and body["type"].endswith("query-timeout")
        assert served_version(own_store) == before
        server.wait_ready(30)
        status, body = curator_update(server.url, note("after the runaway"))
        assert status == 200, body
        assert "after the runaway" in curated_values(server.url)
