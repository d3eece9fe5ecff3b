"""The store interface, run on both backends (embedded pyoxigraph, remote `oxigraph serve`):
the same published graphs must give the same answers, term for term."""
from __future__ import annotations

import csv
import io
import json

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS, XSD

from kg_service.store import META_GRAPH, BindingError, QuerySyntaxError
from kg_service.store.embedded import EmbeddedStore
from kg_service.store.remote import RemoteSettings, RemoteStore

from tests.store.store_support import (AML, PREFIXES, QUERIES, SAMPLE_GRAPHS, SAMPLE_TRIPLES, VERSION,
                           canonical_rows, publish_embedded, publish_remote)



def test_publish_then_read(backend_store):
    s = backend_store
    assert s.graph_version() == VERSION
    assert s.named_graphs() == sorted([*SAMPLE_GRAPHS, META_GRAPH])
    assert s.triple_count() == SAMPLE_TRIPLES + 1  # + the version triple
    rows = s.select(PREFIXES + "SELECT ?label WHERE { ?d a aml:FLT3Inhibitor ; rdfs:label ?label }")
    assert rows == [{"label": Literal("gilteritinib")}]
    assert s.ask(PREFIXES + "ASK { aml:gilteritinib skos:altLabel 'Xospata'@en }") is True
    assert s.ask(PREFIXES + "ASK { aml:gilteritinib skos:altLabel 'Xospata' }") is False
    g = s.construct(PREFIXES + "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d a aml:IDH1Inhibitor ; rdfs:label ?l }")
    assert set(g) == {(URIRef(AML + "ivosidenib"), RDFS.label, Literal("ivosidenib"))}


def test_terms_are_converted_like_the_embedded_backend(backend_store):
    rows = backend_store.select(PREFIXES + QUERIES["typed values"])
    values = {str(r["p"]): r["v"] for r in rows}
    assert values[str(RDFS.label)] == Literal("gilteritinib")                      # plain
    assert values[AML + "approvalYear"] == Literal(2018)                            # xsd:integer
    assert values[AML + "oral"] == Literal(True)
    assert values[AML + "doseMg"] == Literal("120.5", datatype=XSD.decimal)
    assert values[AML + "approved"].datatype == XSD.date
    # an explicit xsd:string comes back as a plain literal, as pyoxigraph gives it
    label = backend_store.select(PREFIXES + "SELECT ?l WHERE { aml:ivosidenib rdfs:label ?l }")[0]["l"]
    assert label == Literal("ivosidenib") and label.datatype is None
    quote = backend_store.select(PREFIXES + "SELECT ?q WHERE { <https://w3id.org/amlkg/rec/1> oa:exact ?q }")
    assert '"gilteritinib"' in quote[0]["q"] and "\nSee below." in quote[0]["q"]


def test_select_leaves_unbound_variables_out(backend_store):
    rows = backend_store.select(PREFIXES + QUERIES["optional unbound"])
    assert {"d": URIRef(AML + "enasidenib")} in rows
    assert {"d": URIRef(AML + "gilteritinib"), "alt": Literal("Xospata", lang="en")} in rows


@pytest.mark.parametrize("evil", [
    'x" } ; DROP ALL #',
    'gilteritinib" || true || "',
    "x' } UNION { ?d ?p ?label } #",
    'line\n} } INSERT DATA { <urn:x> <urn:y> "z" }',
    "\\\" ) } #",
])
def test_bound_values_stay_literal(backend_store, evil):
    q = PREFIXES + "SELECT ?d WHERE { VALUES ?label { 'gilteritinib' } ?d rdfs:label ?label }"
    assert backend_store.select(q, {"label": evil}) == []
    echoed = backend_store.select("SELECT ?v WHERE { }", {"v": evil})
    assert echoed == [{"v": Literal(evil)}]
    assert backend_store.ask(PREFIXES + "ASK { ?d rdfs:label ?label }", {"label": evil}) is False
    assert backend_store.triple_count() == SAMPLE_TRIPLES + 1
    with pytest.raises(BindingError):
        backend_store.select("SELECT ?d WHERE { ?d ?p ?o }", {"d": URIRef("urn:x> } ; DROP ALL #")})


def test_bindings_select_rows(backend_store):
    q = PREFIXES + "SELECT ?d WHERE { VALUES ?label { 'gilteritinib' } ?d rdfs:label ?label }"
    assert backend_store.select(q) == [{"d": URIRef(AML + "gilteritinib")}]
    rows = backend_store.select(q, {"label": ["enasidenib", Literal("ivosidenib")]})
    assert sorted(r["d"] for r in rows) == [URIRef(AML + "enasidenib"), URIRef(AML + "ivosidenib")]
    years = backend_store.select(PREFIXES + "SELECT ?d WHERE { ?d aml:approvalYear ?y }", {"y": 2018})
    assert len(years) == 2


def test_wrong_query_form_and_syntax(backend_store):
    with pytest.raises(QuerySyntaxError) as e:
        backend_store.select("SELEC ?x WHERE { ?x ?p ?o }")
    assert e.value.line == 1
    with pytest.raises(QuerySyntaxError):
        backend_store.select("ASK { ?s ?p ?o }")
    with pytest.raises(QuerySyntaxError):
        backend_store.ask("SELECT ?s WHERE { ?s ?p ?o }")
    with pytest.raises(QuerySyntaxError):
        backend_store.construct("SELECT ?s WHERE { ?s ?p ?o }")


def test_raw_results_and_graphs(backend_store):
    s = backend_store
    body = s.raw(PREFIXES + QUERIES["labels"], "application/sparql-results+json")
    doc = json.loads(body)
    assert [b["label"]["value"] for b in doc["results"]["bindings"]] == ["enasidenib", "gilteritinib", "ivosidenib"]
    text = s.raw(PREFIXES + QUERIES["labels"], "text/csv").decode()
    assert list(csv.reader(io.StringIO(text)))[1] == [AML + "enasidenib", "enasidenib"]
    assert json.loads(s.raw("ASK { ?s ?p ?o }", "application/sparql-results+json"))["boolean"] is True
    nt = s.raw(PREFIXES + "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d rdfs:label ?l }", "application/n-triples")
    g = rdflib.Graph().parse(data=nt.decode(), format="nt")
    assert len(g) == 3
    ttl = s.raw(PREFIXES + "DESCRIBE aml:enasidenib", "text/turtle")
    assert len(rdflib.Graph().parse(data=ttl.decode(), format="turtle")) == 2


def test_raw_dataset_and_base(backend_store):
    s = backend_store
    recs = [g for g in SAMPLE_GRAPHS if g.endswith("recommendations")]
    body = s.raw("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "application/sparql-results+json",
                 default_graphs=recs)
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "6"
    body = s.raw("SELECT ?g WHERE { GRAPH ?g { } }", "application/sparql-results+json",
                 default_graphs=recs, named_graphs=recs)
    assert [b["g"]["value"] for b in json.loads(body)["results"]["bindings"]] == recs
    # the protocol's dataset: default-graph-uri alone means no named graphs, and the reverse
    body = s.raw("SELECT ?g WHERE { GRAPH ?g { } }", "application/sparql-results+json",
                 default_graphs=recs, named_graphs=[])
    assert json.loads(body)["results"]["bindings"] == []
    body = s.raw("ASK { ?s ?p ?o }", "application/sparql-results+json", default_graphs=[],
                 named_graphs=recs)
    assert json.loads(body)["boolean"] is False
    body = s.raw("SELECT ?l WHERE { <gilteritinib> <http://www.w3.org/2000/01/rdf-schema#label> ?l }",
                 "application/sparql-results+json", base_iri=AML)
    assert json.loads(body)["results"]["bindings"][0]["l"]["value"] == "gilteritinib"


@pytest.fixture(scope="module")
def both(tmp_path_factory, oxigraph_server):
    """The same graphs published on both backends at once."""
    root = tmp_path_factory.mktemp("both") / "store"
    embedded = EmbeddedStore(publish_embedded(root, SAMPLE_GRAPHS, VERSION), read_only=True)
    remote = RemoteStore(publish_remote(oxigraph_server, SAMPLE_GRAPHS, VERSION), settings=RemoteSettings())
    yield embedded, remote
    embedded.close()
    remote.close()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_backends_give_identical_rows(both, name):
    embedded, remote = both
    q = PREFIXES + QUERIES[name]
    e_rows, r_rows = embedded.select(q), remote.select(q)
    assert e_rows, "the query should find something"
    if "ORDER BY" in q:
        assert e_rows == r_rows
        assert [[v.n3() for v in r.values()] for r in e_rows] == [[v.n3() for v in r.values()] for r in r_rows]
    assert canonical_rows(e_rows) == canonical_rows(r_rows)


def test_backends_give_identical_graphs_and_facts(both):
    embedded, remote = both
    q = PREFIXES + "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    assert isomorphic(embedded.construct(q), remote.construct(q))
    assert embedded.ask("ASK { ?s ?p 'Xospata'@en }") == remote.ask("ASK { ?s ?p 'Xospata'@en }") is True
    assert embedded.named_graphs() == remote.named_graphs()
    assert embedded.triple_count() == remote.triple_count()
    assert embedded.graph_version() == remote.graph_version() == VERSION
