"""kg_service.sparql.guard: SERVICE is found however it is written; FROM clauses; nesting depth.

The decisive test uses pyoxigraph itself as the oracle: generated queries run against an in-memory
store while a loopback listener records connections; every query that made pyoxigraph connect must
have been flagged by the guard.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kg_service.sparql.guard import MAX_NESTING, inspect_query, inspect_update

EVIL = "<http://127.0.0.1:9/x>"


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE %s { ?s ?p ?o } }" % EVIL,
    "select * where { service silent %s { ?s ?p ?o } }" % EVIL,
    "SELECT * WHERE { ?s ?p ?o.SERVICE %s {} }" % EVIL,             # glued to a dot
    "SELECT * WHERE { ?s ?p 1SERVICE %s {} }" % EVIL,               # glued to a number
    "SELECT * WHERE { ?s ?p 'x'SERVICE%s{} }" % EVIL,               # glued to a string and an IRI
    "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { SERVICESILENTe:y {} }",  # no separators at all
    "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { ?s ?p e:a. SERVICE e:y {} }",
    # `<?b)SERVICE#>` looks like an IRI, but after ?a inside FILTER( it is less-than then a comment
    "SELECT * WHERE { FILTER(?a<?b)SERVICE#>\n SILENT %s { } }" % EVIL,
    "SELECT * WHERE { FILTER(1<2)SERVICE#>\n %s { } }" % EVIL,
    "SELECT * WHERE { { SELECT ?x (?a<?b AS ?c) WHERE {} } SERVICE#>\n %s {} }" % EVIL,
    "SELECT * WHERE { SERVICE ?svc { } }",
    'SELECT * WHERE { FILTER("x"@en<?b)SERVICE#x>\nSILENT %s{} }' % EVIL,      # found by the fuzz test below
    "SELECT * WHERE { { ?s ?p ?o } UNION { SERVICE %s { } } }" % EVIL,
    "ASK { FILTER EXISTS { SERVICE %s {} } }" % EVIL,
])
def test_service_is_found(query):
    assert inspect_query(query).service


@pytest.mark.parametrize("query", [
    'SELECT * WHERE { ?s ?p "SERVICE <http://x/> {}" }',
    "SELECT * WHERE { ?s ?p '''multi\nline SERVICE''' }",
    "SELECT * WHERE { ?s <http://example.org/service#p> ?o }",
    "SELECT ?service WHERE { ?service ?p ?o }",
    "PREFIX ex: <http://example.org/> SELECT * WHERE { ?s ex:serviceType ?o }",
    "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://x/> {}",
    "SELECT * WHERE { ?s ?p ( ?a <http://example.org/service'> ) }",  # IRI in a collection, after a variable
    "SELECT * WHERE { FILTER(?a IN (<http://x/service#a>, <http://x/service'b>)) }",
])
def test_service_lookalikes_are_not_refused(query):
    assert not inspect_query(query).service


def test_from_clauses_resolve_locally():
    q = """BASE <https://w3id.org/amlkg/graph/>
    PREFIX g: <https://w3id.org/amlkg/graph/>
    SELECT ?s FROM g:acs2022 FROM <ontology> FROM NAMED <https://w3id.org/amlkg/graph/meta>
    FROMNAMED<inferred> WHERE { ?s ?p ?o FILTER(?o != "FROM <http://x/>") }"""
    info = inspect_query(q, base="http://127.0.0.1/sparql")
    g = "https://w3id.org/amlkg/graph/"
    assert info.from_graphs == (g + "acs2022", g + "ontology")
    assert info.from_named == (g + "meta", g + "inferred")
    assert info.has_dataset


def test_relative_from_resolves_against_the_endpoint():
    info = inspect_query("ASK FROM <graph/x> {}", base="http://127.0.0.1:8080/sparql")
    assert info.from_graphs == ("http://127.0.0.1:8080/graph/x",)


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { ?s ?p ?o } # FROM <x>",
    'SELECT * WHERE { ?s ?p "from <x>" }',
    "SELECT ?from WHERE { ?from ?p ?o }",
    "CONSTRUCT { ?s <http://x/from> ?o } WHERE { ?s ?p ?o }",
])
def test_no_dataset_clause(query):
    assert not inspect_query(query).has_dataset


def test_construct_template_then_from():
    info = inspect_query("CONSTRUCT { ?s ?p ?o } FROM <http://a/g> WHERE { ?s ?p ?o }")
    assert info.from_graphs == ("http://a/g",)


def test_nesting_is_measured():
    deep = "SELECT * WHERE " + "{" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)
    assert inspect_query(deep).depth == MAX_NESTING + 1
    shallow = "SELECT * WHERE { VALUES (?a) { %s } }" % " ".join("(%d)" % i for i in range(500))
    assert inspect_query(shallow).depth <= 3
    in_string = 'SELECT * WHERE { ?s ?p "%s" }' % ("(" * 1000)
    assert inspect_query(in_string).depth <= 2


def test_guard_is_fast_on_large_queries():
    big = "SELECT * WHERE { VALUES ?x { %s } }" % " ".join(
        "<http://example.org/service/%d>" % i for i in range(20_000))
    t0 = time.perf_counter()
    assert not inspect_query(big).service
    assert time.perf_counter() - t0 < 1.0
    plain = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 1_000_000
    t0 = time.perf_counter()
    inspect_query(plain)
    assert time.perf_counter() - t0 < 0.05


# -- pyoxigraph as the oracle ----------------------------------------------------------------------
class _Listener:
    """Counts connections to a loopback port (what pyoxigraph would reach through SERVICE)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            try:
                conn.recv(200)
                conn.sendall(b"HTTP/1.1 500 canary\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            conn.close()


@pytest.fixture(scope="module")
def listener():
    lst = _Listener()
    yield lst
    lst.sock.close()


_PIECES = [
    "?s ?p ?o .", "?s <urn:p#x> ( ?a <urn:c'> ) .", "?s ?p ( 1 <urn:z#> ) .", "FILTER(?a<?b)",
    "FILTER(?a < <urn:x#>)", "FILTER(1<2)", "BIND(?a<?b AS ?c)", "VALUES (?v) { (<urn:v#>) (UNDEF) }",
    "?s (<urn:p>|<urn:q#>)* ?o .", "OPTIONAL { ?s ?p 'str' }",
    "{ SELECT ?x WHERE { ?x ?y ?z } ORDER BY ?x (?y<?z) }", "?s ?p \"a'b\"@en .", "?s ?p ex:a\\'b .",
    "?s ?p ex:a\\#b .", "FILTER(?a IN (<urn:a#>, <urn:b'>))", "FILTER(STR(?a)<'x#')", "# comment\n",
    "FILTER(true<?b)", "FILTER(?a<<urn:q#>)", "{ SELECT (?a<?b AS ?c) WHERE {} }",
    "{ SELECT ?x (?a<?b AS ?c) WHERE {} }", "{ SELECT ?x WHERE {} GROUP BY ?x HAVING (?x<1) }",
    "?s ?p [ ?q <urn:r'> ] .", "BIND(<<?s ?p ?o>> AS ?t)", "FILTER(?a<?b||?c<?d)", "FILTER(?a<-1)",
    "FILTER(\"x\"@en<?b)", "FILTER(\"1\"^^<urn:dt#>< ?b)", "MINUS { ?a ?b ?c }",
    "FILTER EXISTS { ?a <urn:x'> ?b }", "?a ?b ?c ;", "?s ?p ((?a <urn:y#>) ?b) .", "FILTER(?a*2<?b)",
    "FILTER(\"x\"@en<?b)", "FILTER('y'@en-GB<?b)", "FILTER(\"1\"^^ex:dt<?b)", "FILTER(1e3<?b)",
    "FILTER(.5<?b)", "FILTER(EXISTS{?a ?b ?c}<?x)", "FILTER(?a!=<urn:n#>)", "FILTER(_:b<?x)",
    "FILTER(false<?b)", "FILTER(COUNT(*)<?b)", "FILTER(?a IN(1)<?b)", "FILTER(-?a<?b)",
    "FILTER(STR(?a)<STR(<urn:s#>))", "FILTER(\"\"\"x\"\"\"<?b)", "FILTER(?a<=<urn:l'>)",
]
_SERVICES = ["SERVICE SILENT {E} {{}}", "SERVICE#x>\nSILENT {E}{{}}", "SERVICE SILENT{E}{{}}",
             "SERVICE{E}{{}}", "SERVICE SILENT ev:a {{}}", "SERVICESILENTev:a{{}}",
             "SERVICE #'\n SILENT {E} {{}}"]
_SEPARATORS = ["", " ", "\n", " . ", "."]


@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5), st.integers(0, 5),
       st.sampled_from(_SERVICES), st.lists(st.sampled_from(_SEPARATORS), min_size=6, max_size=6))
@settings(max_examples=int(os.environ.get("AMLKG_GUARD_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_guard_flags_every_query_that_reaches_the_network(listener, pieces, where, service, seps):
    evil = "<http://127.0.0.1:%d/>" % listener.port
    parts = list(pieces)
    parts.insert(min(where, len(parts)), service.format(E=evil))
    body = "".join(p + s for p, s in zip(parts, seps))
    query = ("PREFIX ex: <urn:ex:> PREFIX ev: <http://127.0.0.1:%d/> SELECT * WHERE { %s }"
             % (listener.port, body))
    flagged = inspect_query(query).service
    before = listener.hits
    try:
        result = ox.Store().query(query)
        if isinstance(result, ox.QuerySolutions):
            list(result)
    except SyntaxError:
        return
    except OSError:
        pass
    deadline = time.monotonic() + 0.2
    while listener.hits == before and time.monotonic() < deadline and not flagged:
        time.sleep(0.005)
    if listener.hits > before:
        assert flagged, "pyoxigraph connected out, the guard missed it: %r" % query


# -- complexity and property-path length (query bombs; tests/security/test_query_bombs.py over HTTP) ----
def test_complexity_counts_structure_not_data():
    rows = " ".join("<http://example.org/%d>" % i for i in range(5000))
    assert inspect_query("SELECT * WHERE { VALUES ?x { %s } ?x ?p ?o }" % rows, max_complexity=0).complexity < 20
    data = " ".join("<urn:a> <urn:p> %d ." % i for i in range(5000))
    assert inspect_update("INSERT DATA { GRAPH <urn:g> { %s } }" % data).complexity < 10
    assert inspect_query("ASK { FILTER(" + "!" * 5000 + "true) }").complexity > 5000
    # a collection's element stands for a blank node and two triple patterns
    assert inspect_query("ASK { ?s ?p (" + " 1" * 1000 + ") }").complexity > 3000


@pytest.mark.parametrize("query, steps", [
    ("ASK { ?s <p>/<q>/^<r>|<s> ?o }", 4),
    ("ASK { ?s ?p ?o FILTER(?o / 2 > 1 || ?o ^ 2) }", 0),             # division and || are no path
    ('ASK { ?s <p> "1"^^<http://www.w3.org/2001/XMLSchema#int> }', 0),  # a datatype's ^^
    ("ASK { ?s <p>/<q> ?o . ?o <p>/<q>/<r> ?x }", 2),                  # each path on its own
    ("ASK { ?s !(<a>|<b>|^<c>) ?o }", 3),
])
def test_path_length(query, steps):
    assert inspect_query(query, max_complexity=0).path_length == steps


_ATOMS = ["(", ")", "1", " ", "<a>", "?x", "!", "&&", "{", "}", "[", "]", ".", ",", ";", "/", "|", "^",
          '"s"', "()", "FILTER", "VALUES", "a", "\n", "#c\n", "INSERT", "DATA"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ATOMS), min_size=100, max_size=1500))
def test_the_fast_path_never_misses_a_limit(atoms):
    """inspect_query skips lexing a text that cannot exceed the limits: it must never skip one that does."""
    from kg_service.sparql.guard import DEFAULT_MAX_COMPLEXITY, MAX_PATH_LENGTH
    text = "ASK { ?s ?p (" + "".join(atoms) + ") }"
    full, fast = inspect_query(text, max_complexity=0), inspect_query(text)
    assert not (full.complexity > DEFAULT_MAX_COMPLEXITY >= fast.complexity)
    assert not (full.path_length > MAX_PATH_LENGTH >= fast.path_length)
    assert not (full.depth > MAX_NESTING >= fast.depth)
