"""`/.well-known/void`: a VoID + DCAT description a harvester reads with rdflib: the triple count of
/health, the graph version, licence, source document and revision, named graphs as subsets with size and
provenance, and one distribution per release format that this service serves (ETag, gzip) and that carries
the graph version; the release files round-trip to the endpoint's triple count."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import rdflib
import requests
from rdflib.namespace import DCTERMS, RDF, XSD

from kg_service.release import FORMATS_BY_NAME, RELEASE_FORMATS

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
GRAPH_VERSION = rdflib.URIRef("https://w3id.org/amlkg/graphVersion")
RDFLIB_FORMATS = {"amlkg.trig": "trig", "amlkg.nq": "nquads", "amlkg.ttl": "turtle", "amlkg.nt": "nt",
                  "amlkg.jsonld": "json-ld", "amlkg-inferred.owl": "xml", "amlkg-base.owl": "xml",
                  "amlkg-full.owl": "xml"}


def health(url: str) -> dict:
    return requests.get(url + "/health", timeout=30).json()


def void_graph(url: str, accept: str = "text/turtle") -> rdflib.Graph:
    r = requests.get(url + "/.well-known/void", headers={"Accept": accept}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(accept), r.text[:300]
    g = rdflib.Graph()
    g.parse(data=r.content, format={"text/turtle": "turtle", "application/ld+json": "json-ld"}[accept],
            publicID=url + "/.well-known/void")
    return g


def the_dataset(g: rdflib.Graph) -> rdflib.URIRef:
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 1, datasets
    (ds,) = datasets
    assert (ds, RDF.type, VOID.Dataset) in g
    return ds


def parse_release(body: bytes, name: str) -> int:
    """Triples (quads for dataset formats) rdflib reads from a release file."""
    fmt = RDFLIB_FORMATS[name]
    if fmt in ("trig", "nquads"):
        ds = rdflib.Dataset()
        ds.parse(data=body, format=fmt)
        return len(list(ds.quads((None, None, None, None))))
    g = rdflib.Graph()
    g.parse(data=body, format=fmt)
    return len(g)


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json"])
def test_void_describes_the_served_dataset(live_server, accept):
    url = live_server.url
    facts = health(url)
    g = void_graph(url, accept)
    ds = the_dataset(g)
    assert int(g.value(ds, VOID.triples)) == facts["triples"]
    assert str(g.value(ds, DCTERMS.hasVersion)) == facts["graph_version"]
    assert g.value(ds, DCTERMS.license) == rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert g.value(ds, VOID.sparqlEndpoint) == rdflib.URIRef(url + "/sparql")
    (catalog,) = g.subjects(RDF.type, DCAT.Catalog)
    assert (catalog, DCAT.dataset, ds) in g
    assert (rdflib.URIRef(url + "/sparql"), DCAT.servesDataset, ds) in g
    source = g.value(ds, DCTERMS.source)
    assert source == rdflib.URIRef("https://w3id.org/amlkg/acs2022")
    assert g.value(source, DCTERMS.modified) == rdflib.Literal("2022-12-01", datatype=XSD.date)
    assert str(g.value(source, DCTERMS.publisher)) == "American Cancer Society"
    # every named graph a subset, with its size (summing to the whole) and its provenance
    subsets = set(g.objects(ds, VOID.subset))
    sparql = requests.get(url + "/sparql", params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30).json()
    graphs = {rdflib.URIRef(b["g"]["value"]) for b in sparql["results"]["bindings"]}
    assert subsets == graphs and len(subsets) >= 5
    assert sum(int(g.value(s, VOID.triples)) for s in subsets) == facts["triples"]
    for s in subsets - {rdflib.URIRef("https://w3id.org/amlkg/graph/meta")}:
        assert (s, RDF.type, PROV.Entity) in g and g.value(s, rdflib.RDFS.label) is not None, s
    assert (rdflib.URIRef("https://w3id.org/amlkg/graph/acs2022"), PROV.wasDerivedFrom, source) in g


def test_every_distribution_is_served_versioned_compressed_and_round_trips(live_server):
    url = live_server.url
    facts = health(url)
    g = void_graph(url)
    ds = the_dataset(g)
    dists = list(g.objects(ds, DCAT.distribution))
    assert len(dists) == len(RELEASE_FORMATS)
    media_types = set()
    for dist in dists:
        download = str(g.value(dist, DCAT.downloadURL))
        assert download.startswith(url + "/"), download                  # served by this service
        name = download.rsplit("/", 1)[1]
        media_type = str(g.value(dist, DCAT.mediaType)).rsplit("/media-types/", 1)[1]
        media_types.add(media_type)
        assert str(g.value(dist, DCTERMS.hasVersion)) == facts["graph_version"]
        plain = requests.get(download, headers={"Accept-Encoding": "identity"}, timeout=60)
        assert plain.status_code == 200 and plain.headers["Content-Type"].startswith(media_type)
        assert "Content-Encoding" not in plain.headers
        assert int(g.value(dist, DCAT.byteSize)) == len(plain.content)
        etag = plain.headers["ETag"]
        assert requests.get(download, headers={"If-None-Match": etag, "Accept-Encoding": "identity"},
                            timeout=30).status_code == 304
        zipped = requests.get(download, headers={"Accept-Encoding": "gzip"}, timeout=60, stream=True)
        assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["ETag"] != etag
        raw = zipped.raw.read(decode_content=False)
        assert len(raw) < len(plain.content) / 3 and gzip.decompress(raw) == plain.content
        assert requests.get(download, headers={"If-None-Match": zipped.headers["ETag"], "Accept-Encoding": "gzip"},
                            timeout=30).status_code == 304
        if FORMATS_BY_NAME[name].whole_dataset:  # the whole dataset, with its version triple
            assert parse_release(plain.content, name) == facts["triples"], name
            assert facts["graph_version"].encode() in plain.content
        elif name.endswith(".owl"):  # an ontology of its own, its version IRI naming the graph version
            assert parse_release(plain.content, name) > 1000
            assert facts["graph_version"][:12].encode() in plain.content
        else:  # the SSSOM mapping set
            assert plain.content.startswith(b"#curie_map:") and b"skos:exactMatch" in plain.content
    assert {"application/trig", "application/n-quads", "text/turtle", "application/n-triples",
            "application/ld+json", "application/rdf+xml", "text/tab-separated-values"} <= media_types


def test_release_files_of_the_build_round_trip_to_the_endpoint_count(store_path, store):
    release = Path(store_path).parent / "release"
    version = store.graph_version()
    for fmt in RELEASE_FORMATS:
        body = (release / fmt.name).read_bytes()
        if not fmt.whole_dataset:
            continue
        assert parse_release(body, fmt.name) == store.triple_count(), fmt.name
        g = rdflib.Dataset() if fmt.name.endswith((".trig", ".nq")) else rdflib.Graph()
        g.parse(data=body, format=RDFLIB_FORMATS[fmt.name])
        versions = {str(o) for o in (g.objects(None, GRAPH_VERSION) if isinstance(g, rdflib.Graph) and
                                     not isinstance(g, rdflib.Dataset) else
                                     (q[2] for q in g.quads((None, GRAPH_VERSION, None, None))))}
        assert versions == {version}, fmt.name


def test_service_description_points_to_the_void(live_server):
    url = live_server.url
    r = requests.get(url + "/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    g = rdflib.Graph()
    g.parse(data=r.content, format="turtle")
    service = rdflib.URIRef(url + "/sparql")
    void_doc = rdflib.URIRef(url + "/.well-known/void")
    assert (service, rdflib.RDFS.seeAlso, void_doc) in g
    dataset = g.value(service, SD.defaultDataset)
    assert g.value(dataset, VOID.inDataset) == rdflib.URIRef(str(void_doc) + "#dataset")
    described = void_graph(url)
    assert the_dataset(described) == rdflib.URIRef(str(void_doc) + "#dataset")


def test_void_negotiation_refuses_what_it_cannot_write(live_server):
    r = requests.get(live_server.url + "/.well-known/void", headers={"Accept": "image/png"}, timeout=30)
    assert r.status_code == 406 and r.headers["Content-Type"].startswith("application/problem+json")
    assert "text/turtle" in r.json()["available"]
    r = requests.get(live_server.url + "/downloads/nothing.xyz", timeout=30)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
