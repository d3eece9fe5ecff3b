"""/sparql over real HTTP (gunicorn): SPARQLWrapper, graphs compared by meaning, the service
description, the cut of a pathological query, and the shared W3C protocol suite."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.dom.minidom

import pytest
import rdflib
from rdflib.compare import isomorphic
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from kg_service.negotiation import RDF_MEDIA_TYPES, RESULT_MEDIA_TYPES
from tests.conftest import child_pids, shared_or_skip

from .conftest import SHORT_TIMEOUT

G = "https://w3id.org/amlkg/graph/"
LABELS = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?entity ?label WHERE { ?entity rdfs:label ?label } ORDER BY ?entity ?label LIMIT 20"""
PATHOLOGICAL = ("SELECT (COUNT(*) AS ?n) WHERE { ?s1 ?p1 ?o1 . ?s2 ?p2 ?o2 . ?s3 ?p3 ?o3 . ?s4 ?p4 ?o4 "
                "FILTER(?s1 != ?o4 || ?p2 != ?p3) }")


def wrapper(endpoint, query, fmt, method=None):
    w = SPARQLWrapper(endpoint)
    w.setQuery(query)
    w.setReturnFormat(fmt)
    if method:
        w.setMethod(method)
    return w.query()


# -- SPARQLWrapper ---------------------------------------------------------------------------------
def test_sparqlwrapper_json(endpoint):
    data = wrapper(endpoint, LABELS, JSON).convert()
    assert data["head"]["vars"] == ["entity", "label"]
    assert len(data["results"]["bindings"]) == 20


def test_sparqlwrapper_xml(endpoint):
    doc = wrapper(endpoint, LABELS, XML).convert()
    assert isinstance(doc, xml.dom.minidom.Document)
    assert len(doc.getElementsByTagName("result")) == 20


def test_sparqlwrapper_csv_and_tsv(endpoint):
    rows = list(csv.reader(io.StringIO(wrapper(endpoint, LABELS, CSV).convert().decode())))
    assert rows[0] == ["entity", "label"] and len(rows) == 21
    tsv = wrapper(endpoint, LABELS, TSV).convert().decode().splitlines()
    assert tsv[0] == "?entity\t?label" and len(tsv) == 21


def test_sparqlwrapper_post(endpoint):
    get = wrapper(endpoint, LABELS, JSON).convert()
    post = wrapper(endpoint, LABELS, JSON, method=POST).convert()
    assert get == post


def test_sparqlwrapper_ask(endpoint):
    assert wrapper(endpoint, "ASK { ?s ?p ?o }", JSON).convert()["boolean"] is True


@pytest.mark.parametrize("fmt", [RDFXML, XML, JSONLD])
def test_sparqlwrapper_construct_gives_an_rdflib_graph(endpoint, store, fmt):
    q = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%sfda-approvals> { ?s ?p ?o } }" % G
    got = wrapper(endpoint, q, fmt).convert()
    assert isinstance(got, rdflib.Graph)
    assert isomorphic(got, store.construct(q))


@pytest.mark.parametrize("fmt", [TURTLE, N3])
def test_sparqlwrapper_construct_turtle(endpoint, store, fmt):
    q = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%sfda-approvals> { ?s ?p ?o } }" % G
    got = rdflib.Graph().parse(data=wrapper(endpoint, q, fmt).convert(), format="turtle")
    assert isomorphic(got, store.construct(q))


# -- graphs by meaning -----------------------------------------------------------------------------
@pytest.mark.parametrize("media_type, fmt", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld")])
def test_construct_over_http_is_the_stored_graph(endpoint, store, media_type, fmt):
    """Each named graph, fetched whole with CONSTRUCT, parses back to what the store holds."""
    for graph in store.named_graphs():
        q = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%s> { ?s ?p ?o } }" % graph
        req = urllib.request.Request(endpoint + "?" + urllib.parse.urlencode({"query": q}),
                                     headers={"Accept": media_type})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.headers.get_content_type() == media_type
            got = rdflib.Graph().parse(data=r.read(), format=fmt)
        want = store.construct(q)
        assert len(got) == len(want), graph
        assert isomorphic(got, want), graph


# -- service description ---------------------------------------------------------------------------
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
PROBES = {"SELECT": "SELECT ?x WHERE { VALUES ?x { 1 2 } }", "CONSTRUCT": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 3"}


def test_service_description_names_every_format_and_each_works(endpoint, store):
    with urllib.request.urlopen(urllib.request.Request(endpoint, headers={"Accept": "text/turtle"})) as r:
        assert r.headers.get_content_type() == "text/turtle"
        sd = rdflib.Graph().parse(data=r.read(), format="turtle")
    service = sd.value(predicate=rdflib.RDF.type, object=SD.Service)
    assert str(sd.value(service, SD.endpoint)) == endpoint
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in sd
    assert (service, SD.feature, SD.UnionDefaultGraph) in sd
    claimed = {str(o) for o in sd.objects(service, SD.resultFormat)}
    by_iri = {iri: (mt, "SELECT") for mt, iri in RESULT_MEDIA_TYPES.items()}
    by_iri.update({iri: (mt, "CONSTRUCT") for mt, iri in RDF_MEDIA_TYPES.items()})
    assert claimed == set(by_iri)
    for iri in claimed:  # every claimed format is really served
        media_type, form = by_iri[iri]
        url = endpoint + "?" + urllib.parse.urlencode({"query": PROBES[form]})
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": media_type})) as r:
            assert r.headers.get_content_type() == media_type, iri
            assert r.read()
    dataset = sd.value(service, SD.defaultDataset)
    names = {str(sd.value(ng, SD.name)) for ng in sd.objects(dataset, SD.namedGraph)}
    assert names == set(store.named_graphs())


# -- the timeout -----------------------------------------------------------------------------------
def _ask(base_url: str, timeout: float = 10) -> float:
    t0 = time.monotonic()
    url = base_url + "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
    with urllib.request.urlopen(urllib.request.Request(
            url, headers={"Accept": "application/sparql-results+json"}), timeout=timeout) as r:
        assert json.load(r)["boolean"] is True
    return time.monotonic() - t0


def test_pathological_query_is_cut_and_the_server_keeps_answering(short_timeout_server):
    server = short_timeout_server
    before = child_pids(server.proc.pid)
    assert len(before) == 2
    others = []

    def meanwhile():
        time.sleep(1.0)
        others.append(_ask(server.url))

    side = threading.Thread(target=meanwhile)
    side.start()
    t0 = time.monotonic()
    req = urllib.request.Request(server.url + "/sparql", data=PATHOLOGICAL.encode(), method="POST",
                                 headers={"Content-Type": "application/sparql-query",
                                          "Accept": "application/sparql-results+json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=60)
    elapsed = time.monotonic() - t0
    side.join()
    e = err.value
    assert e.code == 504  # cut at its time limit: 504, and no Retry-After (it would run out of time again)
    assert e.headers.get_content_type() == "application/problem+json"
    assert "Retry-After" not in e.headers
    body = json.loads(e.read())
    assert body["status"] == 504 and body["type"].endswith("/query-timeout") and "stopped" in body["detail"]
    assert SHORT_TIMEOUT - 0.5 < elapsed < SHORT_TIMEOUT + 5
    assert others and others[0] < 2.0        # another client was answered while it ran
    assert _ask(server.url) < 2.0            # and afterwards
    # the worker that ran it is replaced, and does not linger with the runaway query
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = child_pids(server.proc.pid)
        if len(now) == 2 and now != before and len(before - now) >= 1:
            break
        time.sleep(0.25)
    now = child_pids(server.proc.pid)
    assert len(now) == 2 and before - now, "the cut worker was not recycled: %s -> %s" % (before, now)
    for pid in before - now:
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"


# -- the shared W3C protocol suite ------------------------------------------------------------------
def test_protocol_suite(short_timeout_server):
    suite = shared_or_skip("tools", "sparql-protocol-suite.py")
    proc = subprocess.run(
        [sys.executable, str(suite), "--endpoint", short_timeout_server.url + "/sparql",
         "--slow-timeout", str(SHORT_TIMEOUT + 15)],
        capture_output=True, text=True, timeout=300)
    out = proc.stdout
    last = out.strip().splitlines()[-1] if out.strip() else ""
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0 and not failures, out[-4000:] + proc.stderr[-2000:]
    assert re.match(r"^\d+ passed, 0 failed, \d+ skipped$", last), last
    passed = int(last.split()[0])
    assert passed >= 45, out
    print(last)
