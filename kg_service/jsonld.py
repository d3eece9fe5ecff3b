"""The one JSON-LD context of the amlkg vocabulary, and graphs written as compact JSON-LD with it.

The same context object is served at `/context.jsonld` and embedded in every JSON-LD amlkg writes:
the release file `amlkg.jsonld`, CONSTRUCT/DESCRIBE answers of `/sparql`, `/entity/*` and the
VoID description. It is embedded (not referenced by URL) so a document stays readable offline and
by processors that refuse to fetch remote contexts; it is the same object as the served one, so
a client may swap one for the other. With `@vocab` set to the amlkg namespace, types compact to
`"@type": "Recommendation"` and amlkg properties to bare names (`hasStrength`), which is what
framing by `@type` needs (`docs`: README, "For researchers").
"""
from __future__ import annotations

import json

import rdflib

from .vocab import PREFIXES

#: where the context is served (a path of this service)
CONTEXT_PATH = "/context.jsonld"
#: the vocabularies the descriptions of the dataset use, beside those of the graph
DESCRIPTION_PREFIXES = {
    "void": "http://rdfs.org/ns/void#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "foaf": "http://xmlns.com/foaf/0.1/",
}

#: the context itself: amlkg as the vocabulary, and a prefix for every namespace we write
CONTEXT: dict = {"@vocab": PREFIXES["amlkg"], **PREFIXES, **DESCRIPTION_PREFIXES}


def context_document() -> bytes:
    """The body of `/context.jsonld`.

    >>> json.loads(context_document())["@context"]["@vocab"]
    'https://w3id.org/amlkg/'
    """
    return json.dumps({"@context": CONTEXT}, indent=2, sort_keys=True).encode("utf-8")


def graph_to_jsonld(graph: rdflib.Graph) -> bytes:
    """`graph` as compact JSON-LD with the amlkg context embedded (`@type` for rdf:type).

    >>> g = rdflib.Graph()
    >>> _ = g.add((rdflib.URIRef(PREFIXES["amlkg"] + "r1"), rdflib.RDF.type,
    ...            rdflib.URIRef(PREFIXES["amlkg"] + "Recommendation")))
    >>> doc = json.loads(graph_to_jsonld(g))
    >>> doc["@type"], doc["@id"], doc["@context"] == CONTEXT
    ('Recommendation', 'amlkg:r1', True)
    """
    body = graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True)
    # rdflib's node and value order follows Python's (per-process) hashing: put them in a fixed order,
    # so equal graphs give equal bytes (ETags hold across worker processes)
    doc = _in_order(json.loads(body))
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _in_order(value):
    """JSON-LD with every unordered array sorted (`@list` arrays keep their order)."""
    if isinstance(value, dict):
        return {k: (v if k == "@list" else _in_order(v)) for k, v in value.items()}
    if isinstance(value, list):
        items = [_in_order(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    return value


def ntriples_to_jsonld(ntriples: bytes) -> bytes:
    """N-Triples (a store's answer) rewritten as compact JSON-LD with the context.

    Read with pyoxigraph, which keeps blank node labels (rdflib's parser draws fresh random ones), so
    the same triples give the same bytes in every worker process: a download's ETag holds across them.

    >>> nt = b'_:b1 <https://w3id.org/amlkg/p> "x" .\\n'
    >>> ntriples_to_jsonld(nt) == ntriples_to_jsonld(nt), b'"_:b1"' in ntriples_to_jsonld(nt)
    (True, True)
    """
    from .store import rdf as ox
    from .store.embedded import to_rdflib
    graph = rdflib.Graph()
    for t in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES):
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph_to_jsonld(graph)
