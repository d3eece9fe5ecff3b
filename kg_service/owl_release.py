"""The OWL release files (base, inferred, full) and the SSSOM mapping set, made from the dataset.

Per ODK practice each OWL file is an ontology of its own: its own ontology IRI
(`https://w3id.org/amlkg/ontology/amlkg-full.owl`) and a dated version IRI
(`…/ontology/releases/2022-12-01/<graph version>/amlkg-full.owl`), so Protégé can open two side by side
and a reader can tell which build a file came from. The date is the newest revision date
(`dcterms:modified`) of the source documents and the graph version the build's content hash, so the same
inputs give the same bytes (builds are idempotent).

The full file must stay in OWL 2 DL for Protégé and HermiT: `xsd:date` is outside the OWL 2 datatype
map (HermiT throws UnsupportedDatatypeException), so a date value (`approvalDate`, `quotedRevision`,
`dcterms:modified`) is written there as `xsd:dateTime` at the start of that day, without a time zone: the
same day, typed so that a reasoner can compare it. The RDF dumps keep `xsd:date`.
"""
from __future__ import annotations

from .store import META_GRAPH, rdf as ox
from .store.base import VERSION_PREDICATE
from .store.versions import CURATOR_GRAPH
from .vocab import INFERRED_GRAPH, ONTOLOGY_GRAPH, ONTOLOGY_IRI, PREFIXES

EDIT_IRI = ONTOLOGY_IRI
RELEASE_BASE = EDIT_IRI + "/"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
MODIFIED = "http://purl.org/dc/terms/modified"
#: the OWL release files and the named graphs each is made of ("data": every graph of a source document)
OWL_RELEASES = {"amlkg-base.owl": ("ontology",), "amlkg-inferred.owl": ("ontology", "inferred"),
                "amlkg-full.owl": ("ontology", "inferred", "data")}
#: graphs that are no part of any OWL file: the build's provenance and the curators' notes
NOT_OWL = (META_GRAPH, CURATOR_GRAPH)
PARTS = {"ontology": lambda iri: iri == str(ONTOLOGY_GRAPH), "inferred": lambda iri: iri == str(INFERRED_GRAPH),
         "data": lambda iri: iri not in NOT_OWL and iri not in (str(ONTOLOGY_GRAPH), str(INFERRED_GRAPH))}
#: what the data graphs use from outside vocabularies without the edit file declaring it
DATA_DECLARATIONS = (("http://www.w3.org/ns/oa#SpecificResource", OWL + "Class"),
                     ("http://www.w3.org/ns/oa#TextQuoteSelector", OWL + "Class"),
                     ("http://www.w3.org/ns/oa#TextPositionSelector", OWL + "Class"))


def version_and_date(graphs: dict[str, bytes]) -> tuple[str, str]:
    """The graph version (from the meta graph's version triple) and the newest source revision date."""
    version, dates = "", []
    for t in ox.parse(graphs.get(META_GRAPH, b""), format=ox.RdfFormat.N_TRIPLES):
        if t.predicate.value == VERSION_PREDICATE:
            version = t.object.value
    for body in graphs.values():
        for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES):
            if t.predicate.value == MODIFIED and isinstance(t.object, ox.Literal):
                dates.append(t.object.value[:10])
    return version, max(dates, default="undated")


def release_iris(name: str, graphs: dict[str, bytes]) -> tuple[str, str, str]:
    """(ontology IRI, version IRI, version info) of the release file `name`."""
    version, date = version_and_date(graphs)
    short = version[:12] or "unversioned"
    return (RELEASE_BASE + name, "%sreleases/%s/%s/%s" % (RELEASE_BASE, date, short, name),
            "%s (graph version %s)" % (date, short))


def _dl_safe(term):
    """An `xsd:date` literal as the `xsd:dateTime` of the start of that day (OWL 2 has no xsd:date)."""
    if isinstance(term, ox.Literal) and term.datatype.value == XSD + "date":
        return ox.Literal(term.value[:10] + "T00:00:00", datatype=ox.NamedNode(XSD + "dateTime"))
    return term


def owl_release(name: str, graphs: dict[str, bytes]) -> bytes:
    """The OWL release file `name` (RDF/XML): its graphs, its own ontology header, DL-safe literals."""
    wanted = [iri for iri in sorted(graphs) if any(PARTS[p](iri) for p in OWL_RELEASES[name])]
    iri, version_iri, info = release_iris(name, graphs)
    ontology = ox.NamedNode(iri)
    triples = set()
    for g in wanted:
        for t in ox.parse(graphs[g], format=ox.RdfFormat.N_TRIPLES):
            if isinstance(t.subject, ox.NamedNode) and t.subject.value == EDIT_IRI:
                if t.predicate.value in (OWL + "versionIRI", OWL + "versionInfo"):
                    continue
                t = ox.Triple(ontology, t.predicate, t.object)  # the edit file's header, under this file's IRI
            triples.add(ox.Triple(t.subject, t.predicate, _dl_safe(t.object)))
    triples.add(ox.Triple(ontology, RDF_TYPE, ox.NamedNode(OWL + "Ontology")))
    triples.add(ox.Triple(ontology, ox.NamedNode(OWL + "versionIRI"), ox.NamedNode(version_iri)))
    triples.add(ox.Triple(ontology, ox.NamedNode(OWL + "versionInfo"), ox.Literal(info)))
    if "data" in OWL_RELEASES[name]:
        for entity, kind in DATA_DECLARATIONS:
            triples.add(ox.Triple(ox.NamedNode(entity), RDF_TYPE, ox.NamedNode(kind)))
    ordered = sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    return ox.serialize(ordered, format=ox.RdfFormat.RDF_XML, prefixes=PREFIXES)


def sssom_release(graphs: dict[str, bytes]) -> bytes:
    """The SSSOM mapping set of the ontology graph, versioned like the OWL files."""
    import rdflib

    from .mappings import sssom_tsv
    tbox = rdflib.Graph().parse(data=graphs.get(str(ONTOLOGY_GRAPH), b"").decode("utf-8"), format="nt")
    set_iri, _, info = release_iris("amlkg.sssom.tsv", graphs)
    return sssom_tsv(tbox, set_iri, info)
