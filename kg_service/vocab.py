"""Namespaces and graph names used across the build and the service (one place to change them)."""
from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD  # noqa: F401  (re-exported)

BASE = "https://w3id.org/amlkg/"
AMLKG = Namespace(BASE)
OA = Namespace("http://www.w3.org/ns/oa#")
PROV = Namespace("http://www.w3.org/ns/prov#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

#: the ontology's own IRI (owl:Ontology in ontology/amlkg.owl; the OWL release files are named under it)
ONTOLOGY_IRI = BASE + "ontology"

GRAPH = Namespace(BASE + "graph/")
ONTOLOGY_GRAPH = GRAPH["ontology"]
INFERRED_GRAPH = GRAPH["inferred"]

PREFIXES = {
    "amlkg": BASE, "rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL), "xsd": str(XSD),
    "skos": str(SKOS), "dcterms": str(DCTERMS), "oa": str(OA), "prov": str(PROV),
}
