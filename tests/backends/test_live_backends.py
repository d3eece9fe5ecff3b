"""The two store backends behind the real service: the same answers to every competency question,
and a remote store that goes down mid-run gives 503 problem+json with Retry-After, then recovers by
itself when it comes back.

Both services run at once here (the embedded store, and a real `oxigraph serve` reached through the
remote backend), so each answer is compared with its twin byte for byte once parsed; the remote server
runs once with its default graph apart from the named graphs (as Fuseki) and once with it the union of
them (as Virtuoso, GraphDB), and the answers must not change.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import LiveServer, OxigraphProcess

# the competency questions' profiles (queries/options.rq examples cq1-cq5) and a few more situations
PROFILES = [
    {"status": "relapsed", "mutations": "IDH1"},
    {"status": "refractory", "mutations": "FLT3"},
    {"status": "relapsed", "remission_months": "8", "age": "45"},
    {"status": "refractory"},
    {"disease": "APL", "status": "relapsed"},
    {"disease": "APL", "status": "relapsed", "prior_therapy": "ATRA+ATO"},
    {"status": "relapsed", "mutations": "IDH2", "age": "70", "remission_months": "14"},
    {"status": "relapsed", "site": "cns"},
    {"status": "relapsed", "symptoms": "pain,nausea"},
    {"status": "refractory", "mutations": ""},
]
QUESTIONS = ["options for IDH1+ relapse", "refractory AML with FLT3", "what helps with nausea during relapse",
             "relapsed APL after ATRA and arsenic trioxide"]
SPARQL = {
    "recommendations per strength": """PREFIX amlkg: <https://w3id.org/amlkg/>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?strength (COUNT(?r) AS ?n) WHERE { ?r a amlkg:Recommendation ; amlkg:hasStrength/rdfs:label ?strength }
        GROUP BY ?strength ORDER BY ?strength""",
    "named graphs": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "quotes": """PREFIX oa: <http://www.w3.org/ns/oa#>
        SELECT ?quote WHERE { ?s oa:exact ?quote } ORDER BY ?quote""",
}


@pytest.fixture(scope="module", params=["remote_store_url", "union_remote_store_url"],
                ids=["fuseki-style", "union-default-graph"])
def twins(request):
    """(service over the embedded store, service over the remote store), the same graph built into each;
    the remote server once keeping its default graph apart (Fuseki, plain `oxigraph serve`) and once
    making it the union of the named graphs (Virtuoso, GraphDB)."""
    remote = LiveServer(request.getfixturevalue(request.param),
                        log_dir=request.getfixturevalue("tmp_path_factory").mktemp("twin"))
    try:
        yield request.getfixturevalue("embedded_live_server"), remote
    finally:
        remote.stop()


def fetch(base: str, path: str, accept: str = "application/json") -> tuple[int, str, bytes]:
    req = urllib.request.Request(base + path, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get_content_type(), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_content_type(), e.read()


def same_answer(twins, path: str, accept: str = "application/json") -> dict:
    (embedded, remote) = twins
    a, b = fetch(embedded.url, path, accept), fetch(remote.url, path, accept)
    assert a[0] == b[0] == 200, (path, a[0], a[2][:300], b[0], b[2][:300])
    assert a[1] == b[1], path
    ja, jb = json.loads(a[2]), json.loads(b[2])
    assert ja == jb, "the backends disagree on %s" % path
    return ja


def named_query_paths(base: str) -> list[str]:
    """Every named query: with each of its examples, and bare when no parameter is required."""
    listing = json.loads(fetch(base, "/api/queries")[2])["queries"]
    assert len(listing) >= 8
    paths = []
    for q in listing:
        if not any(p["required"] for p in q["parameters"]):
            paths.append(q["url"])
        paths.extend(e["url"] for e in q["examples"])
    return paths


def test_both_backends_serve_the_same_graph_version(twins):
    a, b = (json.loads(fetch(s.url, "/health")[2]) for s in twins)
    assert a["graph_version"] == b["graph_version"] and a["graph_version"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: "-".join("%s=%s" % kv for kv in p.items()))
def test_options_are_identical(twins, profile):
    answer = same_answer(twins, "/api/options?" + urllib.parse.urlencode(profile))
    assert answer["options"] or profile.get("mutations") == ""


def test_relapsed_idh1_finds_the_idh1_inhibitors_on_every_server(twins):
    """The issue's report: on a server whose default graph is not the union (plain `oxigraph serve`,
    Fuseki) this answered 200 with no options and "the graph has no factor" warnings."""
    answer = same_answer(twins, "/api/options?status=relapsed&mutations=IDH1")
    assert {"ivosidenib", "olutasidenib"} <= {o["therapy"]["label"] for o in answer["options"]}
    assert not [w for w in answer.get("warnings", []) if "has no factor" in w], answer["warnings"]
    health = [json.loads(fetch(s.url, "/health")[2]) for s in twins]
    assert health[0]["triples"] == health[1]["triples"] > 3000


def test_every_named_query_and_example_is_identical(twins):
    paths = named_query_paths(twins[0].url)
    for path in paths:
        answer = same_answer(twins, path)
        assert "rows" in answer, path
    # and as CSV
    for path in paths[:4]:
        a, b = (fetch(s.url, path, "text/csv") for s in twins)
        assert a[0] == b[0] == 200 and a[2] == b[2], path


@pytest.mark.parametrize("question", QUESTIONS)
def test_plain_language_answers_are_identical(twins, question):
    (embedded, remote) = twins
    path = "/api/ask?" + urllib.parse.urlencode({"q": question})
    a, b = fetch(embedded.url, path), fetch(remote.url, path)
    assert a[0] == b[0] and json.loads(a[2]) == json.loads(b[2])


@pytest.mark.parametrize("name", sorted(SPARQL))
def test_sparql_answers_are_identical(twins, name):
    path = "/sparql?" + urllib.parse.urlencode({"query": SPARQL[name]})
    answer = same_answer(twins, path, "application/sparql-results+json")
    assert answer["results"]["bindings"]


# -- the remote store going down and coming back -----------------------------------------------------
@pytest.fixture()
def own_remote(tmp_path):
    """A service over a remote store of its own, which the test may stop and restart."""
    oxigraph = OxigraphProcess(tmp_path / "db").start()
    oxigraph.build(tmp_path / "release")
    service = LiveServer(oxigraph.query_url, log_dir=tmp_path,
                         env={"KG_STORE_RETRIES": "1", "KG_STORE_CONNECT_TIMEOUT": "1"})
    try:
        yield oxigraph, service
    finally:
        service.stop()
        oxigraph.stop()


def _uncached_requests(n: int):
    """Requests no cache can have answered before: a new profile, a new query text."""
    return [
        "/api/options?" + urllib.parse.urlencode({"status": "relapsed", "mutations": "IDH1",
                                                   "remission_months": "%.4f" % (13 + n / 1000)}),
        "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o } # %d" % n}),
        "/health",  # counts the triples: a store query every time
    ]


def _assert_unavailable(status: int, ctype: str, body: bytes, headers) -> None:
    assert status == 503, (status, body[:300])
    assert ctype == "application/problem+json", ctype
    problem = json.loads(body)
    assert problem["status"] == 503 and problem["title"] and problem["type"].startswith("https://")
    assert int(headers["Retry-After"]) > 0


def _get(base: str, path: str):
    req = urllib.request.Request(base + path, headers={"Accept": "application/json, application/sparql-results+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get_content_type(), r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_content_type(), e.read(), e.headers


def test_remote_down_gives_503_then_recovers_by_itself(own_remote):
    oxigraph, service = own_remote
    for path in _uncached_requests(0):
        status, _ctype, body, _h = _get(service.url, path)
        assert status == 200, (path, body[:300])

    # a client keeps asking while the remote server is stopped and started again
    seen, stop = [], threading.Event()

    def client():
        n = 1000
        while not stop.is_set():
            n += 1
            for path in _uncached_requests(n):
                t = time.monotonic()
                status, ctype, body, headers = _get(service.url, path)
                seen.append((time.monotonic() - t, path, status, ctype, body, headers))

    worker = threading.Thread(target=client)
    worker.start()
    try:
        time.sleep(0.5)
        oxigraph.stop()
        down_at = time.monotonic()
        time.sleep(4.0)
        for path in _uncached_requests(1):
            _assert_unavailable(*_get(service.url, path))
        oxigraph.start()
        up_at = time.monotonic()
        # recovers by itself: no restart of our service, no request that fails once up
        deadline = up_at + 15
        while time.monotonic() < deadline:
            if all(_get(service.url, p)[0] == 200 for p in _uncached_requests(2)):
                break
            time.sleep(0.2)
        recovered_after = time.monotonic() - up_at
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join(60)
    assert recovered_after < 10, "still unavailable %.1f s after the remote came back" % recovered_after
    for path in _uncached_requests(3):
        status, _ctype, body, _h = _get(service.url, path)
        assert status == 200, (path, body[:300])
    # every answer during the run was either a whole answer or a clean 503, and none hung
    assert seen
    statuses = {s for _t, _p, s, _c, _b, _h in seen}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses
    for elapsed, path, status, ctype, body, headers in seen:
        assert elapsed < 15, (path, elapsed)
        if status == 503:
            _assert_unavailable(status, ctype, body, headers)
        else:
            json.loads(body)
    assert down_at < up_at


# -- the shared W3C protocol suite, pathological query included, on the remote backend ------------------
SHORT_TIMEOUT = 3


@pytest.fixture(scope="module")
def short_timeout_remote(tmp_path_factory):
    """The service over a remote store, both cutting queries: ours after KG_QUERY_TIMEOUT=3 s (the
    read timeout), Oxigraph's own after 5 s, so an abandoned runaway query stops on the remote too."""
    root = tmp_path_factory.mktemp("short-remote")
    oxigraph = OxigraphProcess(root / "db", timeout_s=SHORT_TIMEOUT + 2).start()
    try:
        oxigraph.build(root / "release")
        service = LiveServer(oxigraph.query_url, log_dir=root, env={"KG_QUERY_TIMEOUT": str(SHORT_TIMEOUT)})
        try:
            yield service
        finally:
            service.stop()
    finally:
        oxigraph.stop()


def test_protocol_suite_on_the_remote_backend(short_timeout_remote):
    """tests/sparql/test_http.py runs the suite on the embedded store; the same suite here, remote."""
    import re
    import subprocess
    import sys
    from tests.conftest import shared_or_skip
    suite = shared_or_skip("tools", "sparql-protocol-suite.py")
    proc = subprocess.run(
        [sys.executable, str(suite), "--endpoint", short_timeout_remote.url + "/sparql",
         "--slow-timeout", str(SHORT_TIMEOUT + 15)], capture_output=True, text=True, timeout=300)
    out = proc.stdout
    last = out.strip().splitlines()[-1] if out.strip() else ""
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0 and not failures, out[-4000:] + proc.stderr[-2000:]
    assert re.match(r"^\d+ passed, 0 failed, \d+ skipped$", last), last
    assert int(last.split()[0]) >= 45, out
