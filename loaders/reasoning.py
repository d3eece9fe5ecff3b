"""OWL reasoning for amlkg: HermiT (through owlready2) over the TBox, at build time.

Two jobs, both pure functions over rdflib graphs:

* ``infer(tbox)`` returns only what the reasoner and the annotation-property hierarchy add to the
  hand-edited ontology, so the build can store it as a separate, regenerable graph.
* ``classify_profile(tbox, profile)`` turns a JSON-API patient profile into an OWL individual and
  returns the named classes HermiT puts it in (``IDH1MutatedAML``, ``EarlyRelapsedAML`` ...).

owlready2 0.51 reads RDF/XML and N-Triples but not Turtle, so graphs are handed over as N-Triples
bytes. HermiT runs as a Java subprocess on a temporary file; that file is made in a private temporary
directory that is removed afterwards, so nothing is left behind and the source ontology is never
written.
"""
from __future__ import annotations

import io
import re
import tempfile
import threading
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

import owlready2
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from kg_service.vocab import AMLKG, BASE, ONTOLOGY_IRI

#: patient cases built by classify_profile live here; they never leave this module
CASE_NS = rdflib.Namespace(BASE + "case/")
# (a plain IRI, not rdflib's XSD namespace object, which warns when pytest's doctest finder probes it)
XSD_DECIMAL = URIRef("http://www.w3.org/2001/XMLSchema#decimal")
#: where HermiT's answers are put by owlready2
_INFERENCES_ONTOLOGY = "http://inferrences/"

#: profile fields whose codes name classes of related individuals: field -> linking property
LINK_FIELDS = {
    "mutations": AMLKG.hasMutation,
    "site": AMLKG.hasRelapseSite,
    "prior_therapy": AMLKG.hadPriorTherapy,
    "symptoms": AMLKG.hasSymptom,
}
#: profile fields whose codes name classes of the case itself
TYPE_FIELDS = ("disease", "status")
#: numeric profile fields: field -> data property
NUMBER_FIELDS = {
    "remission_months": AMLKG.remissionDurationMonths,
    "age": AMLKG.patientAgeYears,
}

# owlready2 names its temporary file through the tempfile module's global default directory, so a
# run points that default at a private directory for its duration. The lock keeps two runs of this
# module from swapping it under each other; other threads of the process that create temporary files
# during a run would use the private directory too, so call this at build time, not per request.
_REASONER_LOCK = threading.Lock()


class ReasoningError(RuntimeError):
    """HermiT could not reason over the graph (inconsistent, or Java failed)."""


# --------------------------------------------------------------------------- helpers
def _to_world(graph: rdflib.Graph) -> owlready2.World:
    """A fresh, in-memory owlready2 World holding ``graph`` (one per call: no shared state)."""
    world = owlready2.World()
    data = graph.serialize(format="nt", encoding="utf-8")
    world.get_ontology(ONTOLOGY_IRI).load(fileobj=io.BytesIO(data), format="ntriples")
    return world


def _run_hermit(world: owlready2.World) -> None:
    """Run HermiT on ``world`` with its temporary file in a private directory that is then removed."""
    with _REASONER_LOCK, tempfile.TemporaryDirectory(prefix="amlkg-hermit-") as tmp:
        saved = tempfile.tempdir
        tempfile.tempdir = tmp
        try:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                           ignore_unsupported_datatypes=True)
        except owlready2.OwlReadyInconsistentOntologyError as e:
            raise ReasoningError("HermiT: the ontology (with the case, if any) is inconsistent") from e
        except owlready2.OwlReadyJavaError as e:
            raise ReasoningError("HermiT failed: %s" % e) from e
        finally:
            tempfile.tempdir = saved


def _iri(world: owlready2.World, storid) -> URIRef | None:
    """The IRI of an owlready2 resource id, or None for blank nodes and literals."""
    if not isinstance(storid, int) or storid < 0:
        return None
    return URIRef(world._unabbreviate(storid))


def _annotation_closure(graph: rdflib.Graph) -> rdflib.Graph:
    """(s, q, o) for every (s, p, o) whose annotation property p is a sub-property* of q.

    HermiT ignores annotations, yet a client asking for skos:altLabel should find the brand names
    (amlkg:brandName rdfs:subPropertyOf skos:altLabel) without knowing about amlkg:brandName.
    """
    out = rdflib.Graph()
    annotation_props = set(graph.subjects(RDF.type, OWL.AnnotationProperty))
    for p in sorted(annotation_props):
        supers = set(graph.transitive_objects(p, RDFS.subPropertyOf)) - {p}
        for q in sorted(supers):
            if not isinstance(q, URIRef):
                continue
            for s, o in graph.subject_objects(p):
                if (s, q, o) not in graph:
                    out.add((s, q, o))
    return out


def _named_class_inferences(world: owlready2.World, tbox: rdflib.Graph):
    """subClassOf / equivalentClass triples between named classes of ``tbox`` that HermiT added."""
    keep = {RDFS.subClassOf, OWL.equivalentClass}
    for s, p, o in world.get_ontology(_INFERENCES_ONTOLOGY).get_triples():
        p_iri = _iri(world, p)
        if p_iri not in keep:  # (checked first: only for these is o a resource id, not a literal)
            continue
        s_iri, o_iri = _iri(world, s), _iri(world, o)
        if s_iri is None or o_iri is None or s_iri == o_iri:
            continue
        if o_iri in (OWL.Thing, OWL.Nothing) or (s_iri, p_iri, o_iri) in tbox:
            continue
        if (s_iri, RDF.type, OWL.Class) in tbox and (o_iri, RDF.type, OWL.Class) in tbox:
            yield s_iri, p_iri, o_iri
    # an unsatisfiable named class is a modelling error, not an inference to store
    for c in tbox.subjects(RDF.type, OWL.Class):
        if isinstance(c, URIRef):
            entity = world[str(c)]
            if entity is not None and owlready2.Nothing in getattr(entity, "equivalent_to", []):
                raise ReasoningError("class %s is unsatisfiable" % c)


# --------------------------------------------------------------------------- infer
def infer(tbox: rdflib.Graph) -> rdflib.Graph:
    """Only the triples that reasoning adds to ``tbox``.

    * ``rdfs:subClassOf`` between named classes that HermiT infers and the file does not assert
      (e.g. EarlyRelapsedAPL ⊑ EarlyRelapsedAML, because ≤ 6 months implies < 12 months);
    * ``owl:equivalentClass`` between named classes that HermiT finds equivalent;
    * the annotation sub-property closure materialised (every ``amlkg:brandName`` also as
      ``skos:altLabel``).

    The result is a set of triples, so it is the same on every run; ``tbox`` is not modified.
    """
    out = rdflib.Graph()
    out.bind("amlkg", AMLKG)
    out.bind("skos", rdflib.Namespace("http://www.w3.org/2004/02/skos/core#"))
    world = _to_world(tbox)
    try:
        _run_hermit(world)
        for triple in _named_class_inferences(world, tbox):
            out.add(triple)
    finally:
        world.close()
    for triple in _annotation_closure(tbox):
        out.add(triple)
    return out


# --------------------------------------------------------------------------- classify_profile
def profile_codes(tbox: rdflib.Graph) -> dict[str, URIRef]:
    """Map each ``amlkg:profileCode`` (case-folded) to its class, as declared in the ontology."""
    codes: dict[str, URIRef] = {}
    for cls, code in sorted(tbox.subject_objects(AMLKG.profileCode)):
        if (cls, RDF.type, OWL.Class) not in tbox:
            continue
        key = str(code).casefold()
        if key in codes and codes[key] != cls:
            raise ValueError("profile code %r is used by %s and %s" % (str(code), codes[key], cls))
        codes[key] = cls
    return codes


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (x.strip() for x in value.split(",")) if v]
    return list(value)


def _is_subclass(tbox: rdflib.Graph, cls: URIRef, sup: URIRef) -> bool:
    return sup in set(tbox.transitive_objects(cls, RDFS.subClassOf))


def _case_triples(tbox: rdflib.Graph, codes: Mapping[str, URIRef], case: URIRef,
                  profile: Mapping) -> rdflib.Graph:
    """The OWL individual (plus its mutation, site, ... individuals) that stands for ``profile``."""
    g = rdflib.Graph()
    g.add((case, RDF.type, OWL.NamedIndividual))
    for field in TYPE_FIELDS:
        value = profile.get(field)
        if value in (None, ""):
            continue
        cls = codes.get(str(value).casefold())
        if cls is None:
            raise ValueError("unknown %s %r" % (field, value))
        g.add((case, RDF.type, cls))
    for field, prop in LINK_FIELDS.items():
        ranges = set(tbox.objects(prop, RDFS.range))
        for i, value in enumerate(_as_list(profile.get(field)), start=1):
            cls = codes.get(str(value).casefold())
            if cls is not None and ranges and not any(_is_subclass(tbox, cls, r) for r in ranges):
                cls = None
            if cls is None:
                if field == "mutations":
                    continue  # like the API: a gene the graph does not know is no known mutation
                raise ValueError("unknown %s %r" % (field, value))
            node = URIRef("%s-%s-%d" % (case, field.replace("_", "-"), i))
            g.add((node, RDF.type, OWL.NamedIndividual))
            g.add((node, RDF.type, cls))
            g.add((case, prop, node))
    for field, prop in NUMBER_FIELDS.items():
        value = profile.get(field)
        if value in (None, ""):
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("%s must be a number, not %r" % (field, value)) from None
        if not number.is_finite():
            raise ValueError("%s must be a finite number, not %r" % (field, value))
        g.add((case, prop, Literal(format(number, "f"), datatype=XSD_DECIMAL)))
    return g


def classify_profiles(tbox: rdflib.Graph, profiles: Iterable[Mapping]) -> list[set[str]]:
    """``classify_profile`` for several profiles with one HermiT run (one JVM start for all)."""
    profiles = list(profiles)
    codes = profile_codes(tbox)
    graph = rdflib.Graph()
    for t in tbox:
        graph.add(t)
    cases = []
    for n, profile in enumerate(profiles, start=1):
        case = CASE_NS["p%d" % n]
        cases.append(case)
        for t in _case_triples(tbox, codes, case, profile):
            graph.add(t)
    named = {c for c in tbox.subjects(RDF.type, OWL.Class) if isinstance(c, URIRef)}
    results = []
    world = _to_world(graph)
    try:
        _run_hermit(world)
        for case in cases:
            found = set()
            for cls in world[str(case)].INDIRECT_is_a:
                iri = getattr(cls, "iri", None)
                if iri is not None and URIRef(iri) in named:
                    found.add(re.sub(r"^.*[/#]", "", iri))
            results.append(found)
    finally:
        world.close()
    return results


def classify_profile(tbox: rdflib.Graph, profile: Mapping) -> set[str]:
    """Local names of every named class HermiT places the patient case of ``profile`` in.

    ``profile`` uses the JSON API's fields and codes, e.g. ``{"disease": "AML", "status":
    "relapsed", "mutations": ["IDH1"], "remission_months": 8, "age": 45, "site": "cns"}``. Codes
    are mapped to classes only through the ``amlkg:profileCode`` annotations of ``tbox``, so a code
    added to the ontology needs no code change here. The result holds asserted and inferred classes
    with their superclasses (``AcuteMyeloidLeukemia``, ``RelapsedAML``, ``EarlyRelapsedAML`` ...).

    ``disease: "AML"`` is the code of ``AMLOtherThanAPL`` ("most types of AML"), so such a case is
    asserted into that class, which is the same as asserting AML ⊓ ¬APL: under the open-world
    assumption HermiT could never conclude "not APL" from a case that is merely AML. Unknown gene
    symbols are ignored (as the API does, with a warning); other unknown codes raise ValueError; a
    contradictory profile raises ReasoningError.
    """
    return classify_profiles(tbox, [profile])[0]
