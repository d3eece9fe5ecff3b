"""The release files: one dataset written in every release format, the graph version inside.

One writer for both places a dump comes from: the build (`var/release/`, loaders/build.py) and the
service's downloads (`/downloads/<name>`, kg_service/void.py), which writes the served store's
dataset with it, so a download always is the version being served. Every file holds the meta
graph's `graphVersion` triple, so a dump round-trips to the triple count of `/health` and tells
which version it is.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import negotiation as n
from .jsonld import ntriples_to_jsonld
from .owl_release import OWL_RELEASES, owl_release, sssom_release
from .store import GRAPH_BASE, META_GRAPH
from .store import rdf as ox
from .store.base import VERSION_PREDICATE
from .vocab import PREFIXES


@dataclass(frozen=True)
class ReleaseFormat:
    """One release file: its name, media type, format IRI, what it holds, and whether it holds the whole
    dataset (every triple, with the version triple) or one product made from it."""
    name: str
    media_type: str
    format_iri: str
    title: str
    whole_dataset: bool = True


#: the release files, in the order the catalogue lists them
RELEASE_FORMATS = (
    ReleaseFormat("amlkg.trig", n.TRIG, "http://www.w3.org/ns/formats/TriG",
                  "the dataset as TriG (named graphs kept)"),
    ReleaseFormat("amlkg.nq", n.NQUADS, "http://www.w3.org/ns/formats/N-Quads",
                  "the dataset as N-Quads (named graphs kept)"),
    ReleaseFormat("amlkg.ttl", n.TURTLE, "http://www.w3.org/ns/formats/Turtle",
                  "the union of the named graphs as Turtle"),
    ReleaseFormat("amlkg.nt", n.NTRIPLES, "http://www.w3.org/ns/formats/N-Triples",
                  "the union of the named graphs as N-Triples"),
    ReleaseFormat("amlkg.jsonld", n.JSON_LD, "http://www.w3.org/ns/formats/JSON-LD",
                  "the union of the named graphs as compact JSON-LD (the amlkg context embedded)"),
    ReleaseFormat("amlkg-full.owl", n.RDF_XML, "http://www.w3.org/ns/formats/RDF_XML",
                  "the full ontology in OWL 2 DL: vocabulary, recommendations with their quotes, FDA "
                  "approvals and the reasoner's inferences (open this one in Protégé)", False),
    ReleaseFormat("amlkg-base.owl", n.RDF_XML, "http://www.w3.org/ns/formats/RDF_XML",
                  "the base ontology in OWL 2 DL: the vocabulary as edited, no data, no inferences", False),
    ReleaseFormat("amlkg-inferred.owl", n.RDF_XML, "http://www.w3.org/ns/formats/RDF_XML",
                  "the vocabulary with the reasoner's inferences, no data (OWL 2 DL)", False),
    ReleaseFormat("amlkg.sssom.tsv", n.TSV, "https://w3id.org/sssom/",
                  "the cross-references as an SSSOM mapping set (TSV with its YAML metadata)", False),
)
FORMATS_BY_NAME = {f.name: f for f in RELEASE_FORMATS}


def version_line(version: str) -> bytes:
    """The meta graph's version triple, as N-Triples (the same triple the store publishes)."""
    return ('<%s> <%s> "%s" .\n' % (META_GRAPH, VERSION_PREDICATE, version)).encode("utf-8")


def with_version(graphs: dict[str, bytes], version: str) -> dict[str, bytes]:
    """`graphs` (IRI -> N-Triples) with the version triple added to the meta graph."""
    out = dict(graphs)
    meta = out.get(META_GRAPH, b"")
    out[META_GRAPH] = (meta if not meta or meta.endswith(b"\n") else meta + b"\n") + version_line(version)
    return out


def write_release_file(name: str, graphs: dict[str, bytes]) -> bytes:
    """The release file `name` of the dataset `graphs` (IRI -> N-Triples)."""
    fmt = FORMATS_BY_NAME[name]
    if name in OWL_RELEASES or name == "amlkg.sssom.tsv":
        return owl_release(name, graphs) if name in OWL_RELEASES else sssom_release(graphs)
    union = b"".join(body if body.endswith(b"\n") or not body else body + b"\n"
                     for _, body in sorted(graphs.items()))
    if fmt.media_type == n.NTRIPLES:
        return union
    if fmt.media_type == n.JSON_LD:
        return ntriples_to_jsonld(union)
    if fmt.media_type == n.TURTLE:
        return ox.serialize(ox.parse(union, format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.TURTLE,
                            prefixes=PREFIXES)
    quads = []  # a list, in the graphs' order (a Dataset's own order is not stable)
    for iri, body in sorted(graphs.items()):
        graph = ox.NamedNode(iri)
        quads += [ox.Quad(t.subject, t.predicate, t.object, graph)
                  for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]
    if fmt.media_type == n.NQUADS:
        return ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    return ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=PREFIXES)


_DATASET_QUERY = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"


def canonical_graphs(ds: ox.Dataset, graphs=()) -> dict[str, bytes]:
    """Each named graph of `ds` as sorted N-Triples, blank nodes canonicalised across the dataset
    (the same triples give the same bytes, whatever labels a store or a parser chose); `graphs`
    are IRIs to include even when empty."""
    ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    lines: dict[str, list[str]] = {iri: [] for iri in graphs}
    for q in ds:
        lines.setdefault(q.graph_name.value, []).append("%s %s %s ." % (q.subject, q.predicate, q.object))
    return {iri: ("\n".join(sorted(ls)) + "\n").encode("utf-8") if ls else b""
            for iri, ls in sorted(lines.items())}


def read_dataset(store) -> dict[str, bytes]:
    """The store's named graphs under GRAPH_BASE (IRI -> canonical N-Triples), through the store
    interface (embedded or remote alike); the meta graph holds the version triple."""
    body = store.raw(_DATASET_QUERY, n.SPARQL_JSON)
    ds = ox.Dataset()
    for row in ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON):
        g = row["g"]
        if isinstance(g, ox.NamedNode) and g.value.startswith(GRAPH_BASE):
            ds.add(ox.Quad(row["s"], row["p"], row["o"], g))
    return canonical_graphs(ds)
