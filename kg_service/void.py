"""The dataset's description for harvesters and catalogues, and the files it points to.

- `GET /.well-known/void`: VoID + DCAT (RFC 8615's well-known path VoID defines): the triple count
  (the same as `/health`), the graph version, the licence, the source document and its revision,
  each named graph as a `void:subset` with its size and the provenance the build recorded, the
  SPARQL endpoint, and one `dcat:Distribution` per release format. Turtle, JSON-LD (the amlkg
  context), N-Triples or RDF/XML by negotiation (`format=` too).
- `GET /downloads/<file>`: the release files of the served version (kg_service/release.py writes
  them from the store, so they always are the version served), with ETags.
- `GET /context.jsonld`: the JSON-LD context (kg_service/jsonld.py).

Everything is built once per graph version and service URL, in the answer cache.
"""
from __future__ import annotations

import rdflib
from flask import Blueprint, Flask, Response, request
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from . import negotiation as n
from .cache import get_cache
from .served_store import get_store
from .errors import ProblemError
from .jsonld import CONTEXT_PATH, DESCRIPTION_PREFIXES, context_document, graph_to_jsonld
from .release import FORMATS_BY_NAME, RELEASE_FORMATS, read_dataset, write_release_file
from .store import META_GRAPH, StoreError
from .store import rdf as ox
from .vocab import AMLKG, PREFIXES, PROV

bp = Blueprint("wellknown", __name__)

VOID_PATH = "/.well-known/void"
DOWNLOADS_PATH = "/downloads/"
VOID = rdflib.Namespace(DESCRIPTION_PREFIXES["void"])
DCAT = rdflib.Namespace(DESCRIPTION_PREFIXES["dcat"])
#: media types of the description, in order of preference
VOID_MEDIA_TYPES = (n.TURTLE, n.JSON_LD, n.NTRIPLES, n.RDF_XML)
_WRITERS = {n.TURTLE: "turtle", n.NTRIPLES: "nt", n.RDF_XML: "xml"}
_FACTS_QUERY = """PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?doc ?title ?publisher ?modified ?license WHERE {
  { ?doc a <%sSourceDocument> . OPTIONAL { ?doc dcterms:title ?title } OPTIONAL { ?doc dcterms:publisher ?publisher }
    OPTIONAL { ?doc dcterms:modified ?modified } }
  UNION { ?ontology a <http://www.w3.org/2002/07/owl#Ontology> ; dcterms:license ?license }
}""" % AMLKG


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def service_root() -> str:
    """This service's own URL (no trailing slash), as the client reached it."""
    from .sparql.protocol import endpoint_base
    return endpoint_base(request.environ)[: -len("/sparql")]


def dataset_iri(root: str) -> str:
    """The IRI the description gives the dataset (a fragment of the description's URL)."""
    return root + VOID_PATH + "#dataset"


@bp.get(VOID_PATH)
def void_description():
    """The VoID + DCAT description, negotiated."""
    media_type = _negotiate(VOID_MEDIA_TYPES)
    store = get_store()
    version = store.graph_version()
    root = service_root()
    cache = get_cache()
    key = ("void", root, media_type)
    body = cache.get(version, key)
    if body is None:
        graph = describe_dataset(store, root)
        body = graph_to_jsonld(graph) if media_type == n.JSON_LD else graph.serialize(
            format=_WRITERS[media_type], encoding="utf-8")
        cache.put(version, key, body)
    return _validated(version, key, body, media_type, vary="Accept")


@bp.get(CONTEXT_PATH)
def jsonld_context():
    """The JSON-LD context of the vocabulary (CORS-readable: processors in pages fetch it)."""
    resp = _validated("context", ("context",), context_document(), n.JSON_LD)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get(DOWNLOADS_PATH + "<name>")
def download(name: str):
    """One release file of the served version."""
    fmt = FORMATS_BY_NAME.get(name)
    if fmt is None:
        raise ProblemError(404, "Not Found", "No release file %r; the files are: %s"
                           % (name[:80], ", ".join(FORMATS_BY_NAME)), kind="not-found")
    store = get_store()
    version = store.graph_version()
    key = ("download", name)
    resp = _validated(version, key, lambda: release_file(store, version, name), fmt.media_type)
    resp.headers["Content-Disposition"] = 'attachment; filename="%s"' % name
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def release_file(store, version: str, name: str) -> bytes:
    """The release file `name` of the served version (cached per version)."""
    cache = get_cache()
    body = cache.get(version, ("download", name))
    if body is None:
        dataset = cache.get(version, ("dataset",))
        if dataset is None:
            dataset = _read(store)
            cache.put(version, ("dataset",), dataset, size=sum(len(b) for b in dataset.values()))
        body = write_release_file(name, dataset)
        cache.put(version, ("download", name), body, size=len(body))
    return body


def describe_dataset(store, root: str) -> rdflib.Graph:
    """The VoID + DCAT graph of the served dataset."""
    from .sparql.description import _graph_sizes, _provenance
    version = store.graph_version()
    g = rdflib.Graph()
    for prefix, ns in {**PREFIXES, **DESCRIPTION_PREFIXES}.items():
        g.bind(prefix, ns)
    ds = URIRef(dataset_iri(root))
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, RDF.type, DCAT.Dataset))
    catalog = URIRef(root + VOID_PATH + "#catalog")  # a one-dataset catalogue, for DCAT harvesters
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, Literal("amlkg", lang="en")))
    g.add((catalog, DCAT.dataset, ds))
    g.add((catalog, DCAT.service, URIRef(root + "/sparql")))
    g.add((URIRef(root + "/sparql"), RDF.type, DCAT.DataService))
    g.add((URIRef(root + "/sparql"), DCAT.endpointURL, URIRef(root + "/sparql")))
    g.add((URIRef(root + "/sparql"), DCAT.servesDataset, ds))
    g.add((ds, DCTERMS.title, Literal("amlkg: relapsed and refractory AML treatment options", lang="en")))
    g.add((ds, DCTERMS.description, Literal(
        "One patient-education document (American Cancer Society) as an OWL ontology and a knowledge graph of "
        "its treatment options, each traced to its exact quote. Not medical advice.", lang="en")))
    g.add((ds, VOID.triples, Literal(store.triple_count(), datatype=XSD.integer)))
    g.add((ds, DCTERMS.hasVersion, Literal(version)))
    g.add((ds, DCAT.version, Literal(version)))
    g.add((ds, RDFS.seeAlso, URIRef(root + "/health")))
    g.add((ds, VOID.sparqlEndpoint, URIRef(root + "/sparql")))
    g.add((ds, VOID.uriSpace, Literal(str(AMLKG))))
    g.add((ds, VOID.vocabulary, URIRef(str(AMLKG))))
    g.add((ds, VOID.rootResource, URIRef(str(AMLKG) + "ontology")))
    g.add((ds, DCAT.landingPage, URIRef(root + "/")))
    g.add((ds, URIRef(str(AMLKG) + "jsonldContext"), URIRef(root + CONTEXT_PATH)))
    for row in _rows(store, _FACTS_QUERY):
        if row.get("license") is not None:
            g.add((ds, DCTERMS.license, row["license"]))
        if row.get("doc") is not None:
            doc = row["doc"]
            g.add((ds, DCTERMS.source, doc))
            g.add((ds, PROV.wasDerivedFrom, doc))
            for pred, var in ((DCTERMS.title, "title"), (DCTERMS.publisher, "publisher"),
                              (DCTERMS.modified, "modified")):
                if row.get(var) is not None:
                    g.add((doc, pred, row[var]))

    sizes = _graph_sizes(store)
    graphs = [iri for iri in store.named_graphs() if iri in sizes or iri == META_GRAPH]
    for iri in graphs:
        subset = URIRef(iri)
        g.add((ds, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, VOID.triples, Literal(sizes.get(iri, 0), datatype=XSD.integer)))
    for t in _provenance(store, graphs):
        g.add((URIRef(t.subject.value), URIRef(t.predicate.value), _to_rdflib(t.object)))

    for fmt in RELEASE_FORMATS:
        dist = URIRef(root + DOWNLOADS_PATH + fmt.name)
        body = release_file(store, version, fmt.name)
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(fmt.name)))
        g.add((dist, DCTERMS.description, Literal(fmt.title, lang="en")))
        g.add((dist, DCAT.downloadURL, dist))
        g.add((dist, DCAT.accessURL, dist))
        g.add((dist, DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/" + fmt.media_type)))
        g.add((dist, DCTERMS["format"], URIRef(fmt.format_iri)))
        g.add((dist, DCAT.byteSize, Literal(len(body), datatype=XSD.nonNegativeInteger)))
        g.add((dist, DCTERMS.hasVersion, Literal(version)))
        g.add((dist, DCAT.version, Literal(version)))
        if fmt.whole_dataset:
            g.add((ds, VOID.dataDump, dist))
    return g


def _rows(store, query: str) -> list[dict]:
    try:
        return store.select(query)
    except StoreError:
        return []


def _read(store) -> dict[str, bytes]:
    try:
        return read_dataset(store)
    except StoreError as e:
        raise ProblemError(503, "Store unavailable", str(e), kind="store-unavailable",
                           headers={"Retry-After": "5"})


def _to_rdflib(term):
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    plain = term.language or term.datatype.value == str(XSD.string)
    return Literal(term.value, lang=term.language, datatype=None if plain else URIRef(term.datatype.value))


def _negotiate(offered: tuple[str, ...]) -> str:
    fmt = request.args.get("format")
    if fmt:
        media_type = n.format_override(fmt, "CONSTRUCT")
        if media_type in offered:
            return media_type
    try:
        return n.negotiate(request.headers.get("Accept"), offered, tuple(n.RDF_ALIASES.items()))
    except n.NotAcceptable:
        raise ProblemError(406, "Not Acceptable", "The dataset description is available as %s."
                           % ", ".join(offered), kind="not-acceptable", available=list(offered))


def _validated(version: str, key: tuple, body, media_type: str, vary: str | None = None) -> Response:
    from .api.respond import etag_for, validated
    from .sparql.protocol import content_type
    resp = validated(etag_for(version, key), body if callable(body) else (lambda: body), mimetype=media_type,
                     vary=vary)
    if resp.status_code == 200:
        resp.headers["Content-Type"] = content_type(media_type)
    return resp
