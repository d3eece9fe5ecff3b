"""Query bombs: long flat constructs that overflow pyoxigraph's stack (a crash kills the worker) are
refused with a 400 problem+json naming the limit, on /sparql (GET, form POST, direct POST), on
/curator/update and around the named queries, over real HTTP; the server loses no worker. Every
legitimate query (the .rq files, the notebooks', the protocol suite's) passes the guard.

The sizes are those that crash pyoxigraph on a default 8 MiB thread (benchmarks/crash_sizes.py), or,
for a GET, the largest that fits in a URL (every one is far above KG_MAX_QUERY_COMPLEXITY).
"""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from kg_service.sparql.guard import (DEFAULT_MAX_COMPLEXITY, MAX_PATH_LENGTH, inspect_query, inspect_update,
                                     refuse_if_too_complex)
from tests.conftest import ROOT, shared_or_skip, worker_pids

from .support import TOKEN, ServeProcess, copy_store, http

CURATOR = "https://w3id.org/amlkg/graph/curator"
PROBLEM = "application/problem+json"

# group-pattern bodies that crash pyoxigraph at these sizes (or take minutes: a path, a long BGP)
BOMBS = {
    "not-chain": lambda n: "FILTER(" + "!" * n + "true)",
    "and-chain": lambda n: "FILTER(" + "&&".join(["true"] * n) + ")",
    "or-chain": lambda n: "FILTER(" + "||".join(["false"] * n) + ")",
    "plus-chain": lambda n: "FILTER(" + "+".join(["1"] * n) + ">0)",
    "minus-chain": lambda n: "FILTER(" + "-".join(["1"] * n) + "<0)",
    "times-chain": lambda n: "FILTER(" + "*".join(["1"] * n) + ">0)",
    "triple-patterns": lambda n: " ".join("?s%d ?p ?o%d." % (i, i) for i in range(n)),
    "object-list": lambda n: "?s ?p " + ",".join("<o%d>" % i for i in range(n)),
    "collection": lambda n: "?s ?p (" + " ".join("1" for _ in range(n)) + ")",
    "union": lambda n: "UNION".join(["{}"] * n),
    "optional": lambda n: "OPTIONAL{}" * n,
    "minus": lambda n: "MINUS{}" * n,
    "bind": lambda n: "".join("BIND(1 AS ?b%d)" % i for i in range(n)),
    "graph": lambda n: "GRAPH ?g{}" * n,
    "filter": lambda n: "FILTER(true)" * n,
    "exists": lambda n: "FILTER(" + "&&".join(["EXISTS{}"] * n) + ")",
    "values-blocks": lambda n: "VALUES ?v{1}" * n,
    "subselect": lambda n: "{SELECT*{}}" * n,
    "path-sequence": lambda n: "?s " + "/".join(["<p>"] * n) + " ?o",
    "path-alternative": lambda n: "?s " + "|".join(["<p>"] * n) + " ?o",
    "path-inverse": lambda n: "?s " + "/".join(["^<p>"] * n) + " ?o",
    "nested-parentheses": lambda n: "FILTER(" + "(" * n + "true" + ")" * n + ")",
    "nested-braces": lambda n: "{" * n + "}" * n,
    "nested-brackets": lambda n: "?s ?p " + "[?p " * n + "1" + "]" * n,
}
CRASH_SIZE = 10_000        # above every measured crash size on a default 8 MiB thread (2,600-9,500)
URL_BUDGET = 60_000        # a GET's whole query string must stay under the server's 65,534-byte target


def ask(body: str) -> str:
    return "ASK { %s }" % body


def insert(body: str) -> str:
    return "INSERT { GRAPH <%s> { <urn:amlkg-test:s> <urn:amlkg-test:p> 1 } } WHERE { %s }" % (CURATOR, body)


def sized(name: str, budget: int | None = None, wrap=ask) -> str:
    """The bomb at its crash size, or the largest that fits in `budget` bytes of URL."""
    build, n = BOMBS[name], CRASH_SIZE
    if budget is not None:
        while len(urllib.parse.quote(wrap(build(n)))) > budget:
            n = n * 3 // 4
    text = wrap(build(n))
    info = inspect_query(text) if wrap is ask else inspect_update(text)
    assert max(info.complexity / DEFAULT_MAX_COMPLEXITY, info.depth / 64, info.path_length / MAX_PATH_LENGTH) > 1
    return text


@pytest.fixture(scope="module")
def server(store_path, tmp_path_factory):
    """A real server (two workers) with curator writes on, over a private copy of the store."""
    store = copy_store(store_path, tmp_path_factory.mktemp("bombs") / "store")
    s = ServeProcess(store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_REQUEST_LOG": "off", "KG_RATE_LIMIT": "0"},
                     workers=2).start()
    s.workers_at_start = worker_pids(s.proc.pid)
    yield s
    s.stop()


def refused(status, headers, body) -> dict:
    """The 400 problem document of a refused bomb, which names the limit it broke."""
    assert status == 400, (status, body[:300])
    assert headers.get("Content-Type", "").startswith(PROBLEM)
    doc = json.loads(body)
    assert doc["type"].endswith(("/query-too-complex", "/query-too-deep")), doc
    assert doc["limit"] and doc["measured"] > doc["max"], doc
    if doc["limit"] == "KG_MAX_QUERY_COMPLEXITY":
        assert "KG_MAX_QUERY_COMPLEXITY" in doc["detail"]
    return doc


def assert_alive(server) -> None:
    """The server answers, and with the same worker processes it started with (none died)."""
    status, _h, body = http("GET", server.url + "/health", timeout=10)
    assert status == 200, body[:300]
    assert server.proc.poll() is None
    assert worker_pids(server.proc.pid) == server.workers_at_start


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_refused_on_sparql_by_every_method(server, name):
    url = server.url + "/sparql"
    accept = {"Accept": "application/sparql-results+json"}
    get = sized(name, URL_BUDGET)
    refused(*http("GET", url + "?" + urllib.parse.urlencode({"query": get}), headers=accept))
    text = sized(name)
    refused(*http("POST", url, data=urllib.parse.urlencode({"query": text}).encode(),
                  headers={**accept, "Content-Type": "application/x-www-form-urlencoded"}))
    refused(*http("POST", url, data=text.encode(), headers={**accept, "Content-Type": "application/sparql-query"}))
    assert_alive(server)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_refused_on_curator_update(server, name):
    auth = {"Authorization": "Bearer " + TOKEN}
    text = sized(name, wrap=insert)
    refused(*http("POST", server.url + "/curator/update", data=text.encode(),
                  headers={**auth, "Content-Type": "application/sparql-update"}))
    form = urllib.parse.urlencode({"update": text}).encode()
    refused(*http("POST", server.url + "/curator/update", data=form,
                  headers={**auth, "Content-Type": "application/x-www-form-urlencoded"}))
    assert_alive(server)


def test_a_long_chain_of_update_operations_is_refused(server):
    ops = " ; ".join(["CLEAR SILENT GRAPH <%s>" % CURATOR] * 3000)
    refused(*http("POST", server.url + "/curator/update", data=ops.encode(),
                  headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/sparql-update"}))
    assert_alive(server)


def test_named_queries_take_bomb_shaped_values_as_plain_terms(server):
    """A named query's text is a fixed .rq file (checked below); a parameter is bound as one typed
    term, so a bomb-shaped value is either refused as a bad value (400) or matches nothing (200):
    it never becomes query structure, and no worker is lost."""
    status, _h, body = http("GET", server.url + "/api/queries", headers={"Accept": "application/json"})
    assert status == 200
    listing = json.loads(body)
    queries = listing["queries"] if isinstance(listing, dict) else listing
    values = [BOMBS[n](2000) for n in ("not-chain", "and-chain", "optional", "path-sequence", "union")]
    values += ["} " + v + " {" for v in values[:2]]
    tried = 0
    for q in queries:
        names = [p["name"] for p in q.get("parameters", q.get("params", [])) if isinstance(p, dict)]
        for param in names:
            for value in values:
                url = "%s/api/queries/%s?%s" % (server.url, q["name"], urllib.parse.urlencode({param: value}))
                status, headers, body = http("GET", url, headers={"Accept": "application/json"})
                assert status in (200, 400), (q["name"], param, status, body[:300])
                if status == 400:
                    assert headers["Content-Type"].startswith(PROBLEM)
                tried += 1
    assert tried >= 20
    assert_alive(server)


def test_below_the_limits_is_answered(server):
    """The limits sit far above real queries: 300 OPTIONALs, a 60-step path and a VALUES block of
    20,000 rows (data rows are not counted) are answered."""
    for body in (BOMBS["optional"](300), BOMBS["path-sequence"](60),
                 "VALUES ?v { %s }" % " ".join("<urn:x:%d>" % i for i in range(20_000))):
        status, _h, out = http("POST", server.url + "/sparql", data=ask(body).encode(),
                               headers={"Content-Type": "application/sparql-query",
                                        "Accept": "application/sparql-results+json"})
        assert status == 200, out[:300]
    assert_alive(server)


# -- legitimate queries pass --------------------------------------------------------------------
def _legitimate_queries():
    for path in sorted((ROOT / "queries").glob("*.rq")) + sorted((ROOT / "kg_service/ui/queries").glob("*.rq")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        prefixes = "\n".join(re.findall(r"^PREFIX .*$", source, re.M))
        for i, text in enumerate(re.findall(r'"""(.*?)"""', source, re.S)):
            if re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", text):
                yield "%s#%d" % (nb.name, i), prefixes + "\n" + text


@pytest.mark.parametrize("name, text", list(_legitimate_queries()))
def test_every_shipped_query_passes_the_guard(name, text):
    info = inspect_query(text)
    refuse_if_too_complex(info, DEFAULT_MAX_COMPLEXITY)
    assert inspect_query(text, max_complexity=0).complexity < DEFAULT_MAX_COMPLEXITY / 4, name


def test_the_protocol_suites_queries_pass_the_guard():
    source = shared_or_skip("tools", "sparql-protocol-suite.py").read_text(encoding="utf-8")
    strings = re.findall(r'"""(.*?)"""|"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'', source, re.S)
    queries = [s for groups in strings for s in groups
               if re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", s) and "{" in s]
    assert len(queries) >= 10
    for q in queries:
        refuse_if_too_complex(inspect_query(q), DEFAULT_MAX_COMPLEXITY)


def test_the_evaluation_threads_have_a_large_stack(store_path, tmp_path):
    """Defence in depth: with the guard lifted, a chain of 20,000 `!` (it crashes pyoxigraph at ~9,500
    on a default 8 MiB thread) is evaluated, because evaluation threads get a 64 MiB stack
    (kg_service.limits.EVALUATION_STACK_BYTES)."""
    store = copy_store(store_path, tmp_path / "store")
    with_guard_lifted = {"KG_MAX_QUERY_COMPLEXITY": "1000000", "KG_REQUEST_LOG": "off", "KG_RATE_LIMIT": "0"}
    s = ServeProcess(store, env=with_guard_lifted, workers=1).start()
    try:
        workers = worker_pids(s.proc.pid)
        status, _h, body = http("POST", s.url + "/sparql", data=ask(BOMBS["not-chain"](20_000)).encode(),
                                headers={"Content-Type": "application/sparql-query",
                                         "Accept": "application/sparql-results+json"}, timeout=60)
        assert status == 200 and json.loads(body)["boolean"] is True, body[:300]
        assert worker_pids(s.proc.pid) == workers
    finally:
        s.stop()
