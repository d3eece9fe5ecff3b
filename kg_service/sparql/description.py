"""The SPARQL 1.1 Service Description of /sparql: formats, features, limits, and the dataset.

The dataset part lists every named graph of the store with its size and the provenance the build
recorded about it (the triples whose subject is the graph's IRI), so a client can see where each
graph came from. Built once per graph version, endpoint URL and format.
"""
from __future__ import annotations

import logging

from .. import negotiation as n
from ..store import GRAPH_BASE, META_GRAPH, StoreError
from ..vocab import BASE
from ..store import rdf as ox

log = logging.getLogger("kg_service.sparql")

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
DCTERMS = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SERVICE_NS = BASE + "sparql#"

#: media type -> pyoxigraph writer for the description itself
SD_FORMATS = {n.TURTLE: ox.RdfFormat.TURTLE, n.NTRIPLES: ox.RdfFormat.N_TRIPLES,
              n.RDF_XML: ox.RdfFormat.RDF_XML, n.JSON_LD: ox.RdfFormat.JSON_LD}
PREFIXES = {"sd": SD, "void": VOID, "dcterms": DCTERMS, "amlkg": BASE, "graph": GRAPH_BASE,
            "svc": SERVICE_NS,
            "formats": "http://www.w3.org/ns/formats/", "prov": "http://www.w3.org/ns/prov#",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "xsd": "http://www.w3.org/2001/XMLSchema#"}


def describe(store, endpoint: str, *, timeout: float, row_cap: int, max_query_bytes: int) -> list:
    """The description as a list of pyoxigraph triples."""
    nn, lit, bn = ox.NamedNode, ox.Literal, ox.BlankNode
    a = nn(RDF_TYPE)
    svc = nn(endpoint)
    t = [
        ox.Triple(svc, a, nn(SD + "Service")),
        ox.Triple(svc, nn(SD + "endpoint"), svc),
        ox.Triple(svc, nn(SD + "supportedLanguage"), nn(SD + "SPARQL11Query")),
        ox.Triple(svc, nn(SD + "feature"), nn(SD + "UnionDefaultGraph")),
        ox.Triple(svc, nn(SD + "feature"), nn(SERVICE_NS + "ReadOnly")),
        ox.Triple(svc, nn(SD + "feature"), nn(SERVICE_NS + "NoFederatedQuery")),
        ox.Triple(svc, nn(SD + "feature"), nn(SERVICE_NS + "LocalDatasetOnly")),
        ox.Triple(svc, nn(SD + "defaultEntailmentRegime"), nn("http://www.w3.org/ns/entailment/Simple")),
        ox.Triple(svc, nn(DCTERMS + "title"), lit("amlkg SPARQL endpoint", language="en")),
        ox.Triple(svc, nn(DCTERMS + "description"), lit(
            "Read-only SPARQL 1.1 query endpoint over the amlkg knowledge graph of relapsed and refractory "
            "AML treatment options. The default graph is the union of the named graphs. SERVICE and "
            "updates are refused; FROM, FROM NAMED and the protocol's dataset parameters name graphs of "
            "this store only (any other IRI is an empty graph, never fetched).", language="en")),
        ox.Triple(svc, nn(SERVICE_NS + "queryTimeoutSeconds"), lit(str(float(timeout)),
                                                                 datatype=nn(PREFIXES["xsd"] + "decimal"))),
        ox.Triple(svc, nn(SERVICE_NS + "resultRowCap"), lit(str(int(row_cap)),
                                                          datatype=nn(PREFIXES["xsd"] + "integer"))),
        ox.Triple(svc, nn(SERVICE_NS + "maxQueryBytes"), lit(str(int(max_query_bytes)),
                                                           datatype=nn(PREFIXES["xsd"] + "integer"))),
    ]
    for fmt_iri in list(n.RESULT_MEDIA_TYPES.values()) + list(n.RDF_MEDIA_TYPES.values()):
        t.append(ox.Triple(svc, nn(SD + "resultFormat"), nn(fmt_iri)))
    for feature, label in ((SERVICE_NS + "ReadOnly", "SPARQL Update is refused"),
                           (SERVICE_NS + "NoFederatedQuery", "SERVICE is refused (no outbound requests)"),
                           (SERVICE_NS + "LocalDatasetOnly",
                            "dataset IRIs resolve against this store only; unknown graphs are empty")):
        t.append(ox.Triple(nn(feature), a, nn(SD + "Feature")))
        t.append(ox.Triple(nn(feature), nn(PREFIXES["rdfs"] + "label"), lit(label, language="en")))

    dataset, default = bn(), bn()
    t += [ox.Triple(svc, nn(SD + "defaultDataset"), dataset),
          ox.Triple(dataset, a, nn(SD + "Dataset")),
          ox.Triple(dataset, nn(SD + "defaultGraph"), default),
          ox.Triple(default, a, nn(SD + "Graph"))]
    # the dataset's VoID + DCAT description (kg_service/void.py): sizes, licence, source, downloads
    void_doc = endpoint[: -len("/sparql")] + "/.well-known/void"
    t += [ox.Triple(svc, nn(PREFIXES["rdfs"] + "seeAlso"), nn(void_doc)),
          ox.Triple(dataset, nn(VOID + "inDataset"), nn(void_doc + "#dataset")),
          ox.Triple(dataset, nn(PREFIXES["rdfs"] + "seeAlso"), nn(void_doc))]
    version = store.graph_version()
    if version:
        t.append(ox.Triple(dataset, nn(SERVICE_NS + "graphVersion"), lit(version)))
    counts = _graph_sizes(store)
    if counts:
        t.append(ox.Triple(default, nn(VOID + "triples"), lit(str(sum(counts.values())),
                                                             datatype=nn(PREFIXES["xsd"] + "integer"))))
    graphs = store.named_graphs()
    for g in graphs:
        ng, graph = bn(), bn()
        t += [ox.Triple(dataset, nn(SD + "namedGraph"), ng),
              ox.Triple(ng, a, nn(SD + "NamedGraph")),
              ox.Triple(ng, nn(SD + "name"), nn(g)),
              ox.Triple(ng, nn(SD + "graph"), graph),
              ox.Triple(graph, a, nn(SD + "Graph"))]
        if g in counts:
            t.append(ox.Triple(graph, nn(VOID + "triples"), lit(str(counts[g]),
                                                              datatype=nn(PREFIXES["xsd"] + "integer"))))
    t += _provenance(store, graphs)
    return t


def serialize(triples: list, media_type: str) -> bytes:
    """Write the description in one of SD_FORMATS (Turtle with readable prefixes)."""
    fmt = SD_FORMATS[media_type]
    if media_type == n.JSON_LD:  # compact, with the one amlkg context (kg_service/jsonld.py)
        from ..jsonld import ntriples_to_jsonld
        return ntriples_to_jsonld(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES))
    if fmt == ox.RdfFormat.TURTLE:
        return ox.serialize(triples, format=fmt, prefixes=PREFIXES)
    return ox.serialize(triples, format=fmt)


def _graph_sizes(store) -> dict[str, int]:
    """Triples per named graph (empty if counting fails: the description still lists the graphs)."""
    try:
        rows = store.raw("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                         n.TSV)
    except StoreError as e:
        log.warning("service description without graph sizes: %s", e)
        return {}
    sizes = {}
    for line in rows.decode("utf-8").splitlines()[1:]:
        g, _, count = line.partition("\t")
        if g.startswith("<") and count:
            sizes[g[1:-1]] = int(count.split("^^")[0].strip('"'))
    return sizes


def _provenance(store, graphs: list[str]) -> list:
    """What the build recorded about each graph (subject = the graph IRI), from any graph."""
    if not graphs:
        return []
    values = " ".join("<%s>" % g for g in graphs)
    try:
        body = store.raw("CONSTRUCT { ?g ?p ?o } WHERE { VALUES ?g { %s } GRAPH <%s> { ?g ?p ?o } }"
                         % (values, META_GRAPH), n.NTRIPLES)
    except StoreError as e:
        log.warning("service description without provenance: %s", e)
        return []
    return [ox.Triple(t.subject, t.predicate, t.object)
            for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]
