"""Fuzzing (hypothesis): the profile parser, the question parser and parameter binding never fail except
with their own validation errors, and bound values never change a query's shape; a random-SPARQL
generator against the real /sparql finds no 5xx and leaves the server healthy.

The examples each test tries are counted and printed (``pytest -s``) for the closing figures. Set
AMLKG_FUZZ_SCALE (default 1) to multiply every budget. The OpenAPI-driven fuzzing (schemathesis) lives
with the API: tests/api/test_openapi.py::test_schemathesis_finds_no_server_error.
"""
from __future__ import annotations

import json
import os
import urllib.parse
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from rdflib import Literal, URIRef

from kg_service.named_queries import ParameterError, bindings_for, load_all
from kg_service.options import (BOOLEAN_FIELDS, CHOICES, GENE_SYMBOL, MUTATION_NAME, NUMBER_NOTATION, PROFILE_FIELDS,
                                ProfileError, mutation_gene, parse_profile)
from kg_service.store import BindingError, QuerySyntaxError, bind_values, term_to_sparql

from .support import ServeProcess, http, sparql

SCALE = float(os.environ.get("AMLKG_FUZZ_SCALE", "1"))
TRIED: Counter = Counter()


def budget(n: int) -> int:
    return max(10, int(n * SCALE))


def fuzz_settings(n: int):
    return settings(max_examples=budget(n), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print("\nfuzz cases tried: %s (total %d)" % (dict(TRIED), sum(TRIED.values())))


# -- the profile parser ---------------------------------------------------------------------------
_ANY = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
                    | st.decimals(allow_nan=True), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
_VALUES = st.one_of(
    _ANY,
    st.sampled_from(sum((list(v) for v in CHOICES.values()), []) + ["IDH1", "flt3", "idh2,FLT3", "NPM1", "-1",
                    "130", "131", "1e400", "NaN", "Infinity", " 12 ", "12.5", "0x10", "١٢", "", " ", "\x00",
                    "<12", ">=24", "6-12", "~6", "<0", ">130", "12-6", "FLT3-ITD", "idh2 p.r172k", "none", "unknown",
                    "yes", "false"]),
)
_PROFILES = st.dictionaries(st.sampled_from(PROFILE_FIELDS) | st.text(max_size=12), _VALUES, max_size=9)


@fuzz_settings(1500)
@given(_PROFILES)
def test_parse_profile_accepts_or_refuses_cleanly(raw):
    TRIED["parse_profile"] += 1
    try:
        profile = parse_profile(raw)
    except ProfileError as e:
        assert e.errors and all(isinstance(k, str) and isinstance(v, str) for k, v in e.errors.items())
        return
    assert set(profile) <= set(PROFILE_FIELDS) and profile["status"] in CHOICES["status"]
    assert profile["disease"] in CHOICES["disease"] and profile["site"] in CHOICES["site"]
    if "age" in profile:   # a whole number or, since issue 16, a bound/range string in the contract's notation
        assert (isinstance(profile["age"], int) and 0 <= profile["age"] <= 130) or NUMBER_NOTATION.match(profile["age"])
    if "remission_months" in profile:
        months = profile["remission_months"]
        assert NUMBER_NOTATION.match(months) if isinstance(months, str) else 0 <= months <= 1200
    for gene in profile.get("mutations", []):
        assert MUTATION_NAME.match(gene) and mutation_gene(gene) == mutation_gene(gene).upper()
    for gene in profile.get("absent_mutations", []):
        assert GENE_SYMBOL.match(gene) and gene == gene.upper()
    for flag in BOOLEAN_FIELDS:
        assert profile.get(flag) in (None, True, False)
    assert parse_profile(profile) == profile                      # normal form is a fixed point


@fuzz_settings(300)
@given(st.dictionaries(st.sampled_from(PROFILE_FIELDS + ("x", "query", "q")),
                       st.text(alphabet=st.characters(codec="utf-8"), max_size=40), max_size=6))
def test_the_options_route_never_fails(client, params):
    TRIED["GET /api/options"] += 1
    r = client.get("/api/options?" + urllib.parse.urlencode(params))
    assert r.status_code in (200, 400), (params, r.data[:300])
    assert r.status_code == 200 or r.mimetype == "application/problem+json"


# -- the question parser --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lexicon(store):
    from kg_service.question import lexicon_for
    return lexicon_for(store)


_WORDS = st.sampled_from(["relapsed", "refractory", "came back", "after", "months", "years", "IDH1", "idh1+",
                          "FLT3-ITD", "APL", "ATRA+ATO", "not", "no", "without", "age", "45", "-3", "1e9",
                          "Tibsovo", "gilteritinib", "CNS", "pain", "¿", "ß", "İ", "\u0301", "\u200b", "🩸",
                          "<script>", "' OR 1=1 --", "} } DROP ALL #", "%00", "\\", "\n"])


@fuzz_settings(800)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
       | st.lists(_WORDS, max_size=20).map(" ".join))
def test_a_question_yields_a_profile_that_validates_or_is_refused_cleanly(lexicon, text):
    """Beyond tests/api/test_question.py (no crash): what the question parser reads is always a
    profile `parse_profile` accepts or refuses with its own error, never one that breaks it."""
    from kg_service.question import parse_question
    TRIED["parse_question"] += 1
    parsed = parse_question(text, lexicon)
    assert set(parsed.profile) <= set(PROFILE_FIELDS)
    if "status" in parsed.profile:
        try:
            parse_profile(parsed.profile)
        except ProfileError:
            pass


@fuzz_settings(300)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=600)
       | st.lists(_WORDS, min_size=1, max_size=30).map(" ".join))
def test_the_ask_route_never_fails(client, text):
    TRIED["GET /api/ask"] += 1
    r = client.get("/api/ask", query_string={"q": text})
    assert r.status_code in (200, 400, 422), (text, r.data[:300])


# -- parameter binding ----------------------------------------------------------------------------
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_LITERALS = st.one_of(
    _TEXT, st.integers(min_value=-10**18, max_value=10**18), st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**9, max_value=10**9),
    st.builds(lambda t, lang: Literal(t, lang=lang), _TEXT, st.sampled_from(["en", "de-CH", "x-amlkg"])),
    st.sampled_from(['x" } ; DROP ALL #', "'''", '"""', "\\", "\\u0022", "?s", "} UNION { ?s ?p ?o",
                     "\n#", "\r\n", "\t", "\x7f", "\u2028"]))


@fuzz_settings(1500)
@given(_LITERALS)
def test_a_bound_literal_comes_back_exactly(store, value):
    """Whatever is bound is one term: the query returns exactly that value, one row, no more."""
    TRIED["bind literal"] += 1
    text = bind_values("SELECT ?v WHERE { VALUES ?v { UNDEF } }", {"v": value})
    rows = store.select(text)
    assert len(rows) == 1
    got = rows[0]["v"]
    if isinstance(value, bool):
        assert got.toPython() is value
    elif isinstance(value, int):
        assert int(got) == value
    elif isinstance(value, Decimal):
        assert Decimal(str(got)) == value
    elif isinstance(value, Literal):
        assert str(got) == str(value) and got.language.lower() == value.language.lower()
    else:
        assert str(got) == value


@fuzz_settings(1500)
@given(st.text(max_size=80) | st.builds(lambda s: "http://x/" + s, st.text(max_size=40)))
def test_a_bound_iri_is_one_iri_or_refused(store, raw):
    TRIED["bind IRI"] += 1
    try:
        term = term_to_sparql(URIRef(raw))
    except BindingError:
        return
    try:
        rows = store.select("SELECT ?v WHERE { VALUES ?v { UNDEF } }", {"v": URIRef(raw)})
    except QuerySyntaxError:
        return       # the store's IRI grammar is stricter than the binder's: refused, never reshaped
    assert len(rows) == 1 and str(rows[0]["v"]) == raw, term


QUERIES = load_all()
_PARAM_VALUES = st.one_of(_TEXT, st.integers().map(str), st.sampled_from(
    ["IDHInhibitor", "amlkg:Ivosidenib", "https://w3id.org/amlkg/Ivosidenib", "http://x> } <y", "2018-11-28",
     "2018-02-30", "true", "1", "12 } DROP", "pain", "PAIN", "relapsed", "../../etc/passwd", "<script>"]))


@fuzz_settings(1000)
@given(st.sampled_from(sorted(n for n, q in QUERIES.items() if q.params and "profile" not in q.params)),
       st.data())
def test_named_query_parameters_bind_as_terms_or_are_refused(store, name, data):
    """Random values for every parameter of every named query: a ParameterError/ValueError, or a
    query that still parses and runs (the values never reach the text as anything but terms)."""
    TRIED["named query binding"] += 1
    query = QUERIES[name]
    raw = {p: data.draw(_PARAM_VALUES, label=p) for p in query.params if data.draw(st.booleans(), label="has " + p)}
    codes = {"pain": URIRef("https://w3id.org/amlkg/Pain")}
    try:
        bindings = bindings_for(query, raw, code_lookup=lambda c: codes.get(c.lower()))
    except (ParameterError, ValueError):
        return
    try:
        store.select(query.text, bindings)     # raises QuerySyntaxError if binding broke the query
    except BindingError:
        return                                 # refused as a term: never reaches the text


@fuzz_settings(300)
@given(st.sampled_from(sorted(QUERIES)), st.dictionaries(st.text(max_size=12), _PARAM_VALUES, max_size=4))
def test_the_named_query_routes_never_fail(client, name, params):
    TRIED["GET /api/queries/<name>"] += 1
    r = client.get("/api/queries/%s?%s" % (name, urllib.parse.urlencode(params)))
    assert r.status_code in (200, 400, 404, 406), (name, params, r.data[:300])


# -- random SPARQL against the real endpoint --------------------------------------------------------
P = ["rdfs:label", "a", "skos:altLabel", "aml:recommends", "oa:exact", "?p", "rdfs:subClassOf*",
     "^aml:recommends", "(rdfs:label|skos:altLabel)", "aml:hasCondition/aml:requires", "!rdf:type"]
TERMS = ["?s", "?o", "?x", "?y", "aml:Ivosidenib", "aml:FLT3Mutation", '"gilteritinib"', '"x"@en', "42",
         "true", "<urn:amlkg-test:nothing>", "[]", "( 1 2 )", "_:b", '"""long"""', "-0.5e3"]
EXPRS = ["?x = ?y", "isIRI(?s)", "STRLEN(STR(?o)) > 3", 'REGEX(STR(?o), "^i", "i")', "LANG(?o) = 'en'",
         "?o IN (1, 2, 'a')", "BOUND(?x)", "!(?s = ?o)", "CONTAINS(LCASE(STR(?o)), 'aml')",
         "COALESCE(?x, 1) > 0", "DATATYPE(?o) = xsd:string", "ABS(-1) = 1", "SHA256(STR(?s)) != ''",
         "NOT EXISTS { ?s a ?c }", "?o < 5", "STRDT('1', xsd:integer) = 1", "1/0 = 1", "xsd:date('x') = 1"]
PREFIXES = ("PREFIX aml: <https://w3id.org/amlkg/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX oa: <http://www.w3.org/ns/oa#> "
            "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n")


@st.composite
def group(draw, depth=0):
    """A group graph pattern: triples (at most two unbound), FILTER, OPTIONAL, UNION, MINUS, BIND,
    VALUES, GRAPH, a subquery."""
    parts = []
    for i in range(draw(st.integers(1, 3))):
        # every pattern's subject is ?s, ?o or a constant: patterns join, they never multiply (a
        # cross product of the whole graph with itself is a pathological query, tested elsewhere)
        s = draw(st.sampled_from(["?s", "?o", "aml:Ivosidenib", "aml:FLT3Mutation"] if i or depth else
                                 ["?s", "aml:Ivosidenib", "aml:FLT3Mutation"]))
        parts.append("%s %s %s ." % (s, draw(st.sampled_from(P)), draw(st.sampled_from(TERMS))))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["FILTER", "OPTIONAL", "UNION", "MINUS", "BIND", "VALUES", "GRAPH", "SUB"]))
        if kind == "FILTER":
            parts.append("FILTER(%s)" % draw(st.sampled_from(EXPRS)))
        elif kind == "BIND":
            parts.append("BIND(%s AS ?b%d)" % (draw(st.sampled_from(EXPRS)), draw(st.integers(0, 3))))
        elif kind == "VALUES":
            parts.append("VALUES ?x { %s }" % " ".join(draw(st.lists(st.sampled_from(TERMS[4:]), max_size=3))))
        elif depth < 2 and kind in ("OPTIONAL", "MINUS"):
            parts.append("%s { %s }" % (kind, draw(group(depth + 1))))
        elif depth < 2 and kind == "UNION":
            parts.append("{ %s } UNION { %s }" % (draw(group(depth + 1)), draw(group(depth + 1))))
        elif depth < 2 and kind == "GRAPH":
            parts.append("GRAPH %s { %s }" % (draw(st.sampled_from(["?g", "<https://w3id.org/amlkg/graph/acs2022>",
                                                                   "<urn:amlkg-test:none>"])), draw(group(depth + 1))))
        elif depth < 1 and kind == "SUB":
            parts.append("{ SELECT * WHERE { %s } LIMIT 5 }" % draw(group(depth + 1)))
    return " ".join(parts)


@st.composite
def sparql_queries(draw):
    form = draw(st.sampled_from(["SELECT", "SELECT DISTINCT", "AGG", "ASK", "CONSTRUCT", "DESCRIBE"]))
    where = draw(group())
    limit = " LIMIT %d" % draw(st.integers(0, 50))
    if form.startswith("SELECT"):
        q = "%s * WHERE { %s }%s%s" % (form, where, draw(st.sampled_from(["", " ORDER BY ?s", " OFFSET 2"])), limit)
    elif form == "AGG":
        q = ("SELECT ?s (%s(?o) AS ?n) WHERE { %s } GROUP BY ?s%s" %
             (draw(st.sampled_from(["COUNT", "SAMPLE", "MIN", "MAX", "GROUP_CONCAT", "SUM", "AVG"])), where, limit))
    elif form == "ASK":
        q = "ASK { %s }" % where
    elif form == "CONSTRUCT":
        q = "CONSTRUCT { ?s <urn:amlkg-test:p> ?o } WHERE { %s }%s" % (where, limit)
    else:
        q = "DESCRIBE ?s WHERE { %s }%s" % (where, limit)
    q = PREFIXES + q
    mutation = draw(st.sampled_from(["none"] * 6 + ["truncate", "insert", "delete", "swap-case"]))
    if mutation == "truncate":
        q = q[:draw(st.integers(len(PREFIXES), len(q)))]
    elif mutation == "insert":
        at = draw(st.integers(len(PREFIXES), len(q)))
        q = q[:at] + draw(st.sampled_from(["{", "}", "(", '"', "<", "SERVICE <http://127.0.0.1:9/> {}", "\x00",
                                           "FROM <file:///etc/passwd>", "é", "#", "LOAD <x>"])) + q[at:]
    elif mutation == "delete":
        at = draw(st.integers(len(PREFIXES), max(len(PREFIXES), len(q) - 1)))
        q = q[:at] + q[at + 1:]
    elif mutation == "swap-case":
        q = q.swapcase()
    return q


ACCEPTS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/turtle",
           "application/n-triples", "application/ld+json", "text/html;q=0.1, */*;q=0.5"] + ["*/*"] * 4


@pytest.fixture(scope="module")
def fuzz_server(store_path, tmp_path_factory):
    """A real server of the fuzz's own (2 workers), so a cut query cannot slow the shared one."""
    from .support import copy_store
    store = copy_store(store_path, tmp_path_factory.mktemp("fuzz") / "store")
    server = ServeProcess(store, env={"KG_REQUEST_LOG": "off", "KG_QUERY_TIMEOUT": "5",
                                      "KG_QUERY_QUEUE_SECONDS": "10"}).start()
    yield server
    server.stop()


def test_random_sparql_over_http_never_5xx_and_the_server_stays_healthy(fuzz_server):
    statuses: Counter = Counter()
    CUT: list = []  # queries cut at the time limit
    import requests
    session = requests.Session()

    @fuzz_settings(1500)
    @given(sparql_queries(), st.sampled_from(ACCEPTS), st.sampled_from(["GET", "POST", "DIRECT"]))
    def run(query, accept, how):
        TRIED["random SPARQL over HTTP"] += 1
        url = fuzz_server.url + "/sparql"
        headers = {"Accept": accept}
        if how == "GET":
            r = session.get(url, params={"query": query}, headers=headers, timeout=60)
        elif how == "POST":
            r = session.post(url, data={"query": query}, headers=headers, timeout=60)
        else:
            r = session.post(url, data=query.encode("utf-8"), timeout=60,
                             headers={**headers, "Content-Type": "application/sparql-query"})
        statuses[r.status_code] += 1
        if r.status_code in (503, 504) and r.headers.get("Content-Type", "").startswith("application/problem+json") \
                and r.json()["type"].endswith(("/query-timeout", "/overloaded")):
            # a random cross product can legitimately run past the 5 s limit: cut as designed (a
            # documented 504 query-timeout, the worker replaced; or 503 + Retry-After while busy), not a fault
            assert (r.status_code == 504) == r.json()["type"].endswith("/query-timeout"), r.headers
            assert bool(r.headers.get("Retry-After")) == (r.status_code == 503), r.headers
            CUT.append(query)
            return
        assert r.status_code < 500, (query, accept, how, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert r.headers["Content-Type"].startswith("application/problem+json")

    run()
    print("\nrandom SPARQL statuses: %s; cut at the time limit: %d" % (dict(statuses), len(CUT)))
    assert statuses[200] > statuses.total() / 3           # the generator mostly writes valid queries
    assert len(CUT) <= max(2, statuses.total() // 100), CUT  # cuts stay the rare runaway, not the rule
    status, doc = sparql(fuzz_server.url, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert status == 200 and int(doc["results"]["bindings"][0]["n"]["value"]) > 1000
    health = json.loads(http("GET", fuzz_server.url + "/health")[2])
    assert health["status"] == "ok"
