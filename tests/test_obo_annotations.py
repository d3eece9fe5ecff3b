"""OBO annotations beside the SKOS ones (issue 14): IAO definitions with their source, oboInOwl
synonyms with scope and type, creators; API tokens are no synonyms."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "amlkg.owl"
A = rdflib.Namespace("https://w3id.org/amlkg/")
OBO = rdflib.Namespace("http://purl.obolibrary.org/obo/")
OIO = rdflib.Namespace("http://www.geneontology.org/formats/oboInOwl#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
SCOPES = tuple(OIO["has%sSynonym" % s] for s in ("Exact", "Broad", "Narrow", "Related"))
KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual)


@pytest.fixture(scope="module")
def tbox() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="xml")


def entities(tbox):
    return sorted({s for k in KINDS for s in tbox.subjects(RDF.type, k) if isinstance(s, URIRef)})


def test_every_entity_has_one_iao_definition_equal_to_its_skos_definition(tbox):
    problems = [e for e in entities(tbox)
                if list(tbox.objects(e, OBO.IAO_0000115)) != list(tbox.objects(e, SKOS.definition))
                or len(list(tbox.objects(e, OBO.IAO_0000115))) != 1]
    assert problems == []


def test_definition_sources_are_the_section_that_names_the_term():
    """A term of the document gets the section (or the document) where its name first appears; the name
    must really be in that part of the text."""
    g = rdflib.Graph().parse(ONTOLOGY, format="xml")
    text = (ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt").read_text(encoding="utf-8")
    data = yaml.safe_load((ROOT / "loaders" / "data" / "acs-recommendations.yaml").read_text(encoding="utf-8"))
    starts = sorted((text.index("\n%s\n" % s["heading"]), s["id"]) for s in data["sections"])

    def part(section_id):
        i = [sid for _, sid in starts].index(section_id)
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        return text[starts[i][0]:end]

    def norm(t):
        return t.replace("\u2019", "'").replace("\u00a0", " ").lower()

    sourced = list(g.subject_objects(OBO.IAO_0000119))
    in_document = [(s, o) for s, o in sourced if str(o).startswith(str(A) + "acs2022")]
    assert len(in_document) > 40
    for term, source in in_document:
        names = [str(n) for p in (RDFS.label, SKOS.altLabel, A.brandName) for n in g.objects(term, p)]
        where = text[:starts[0][0]] if str(source) == A + "acs2022" else part(str(source).rsplit("section-", 1)[1])
        assert any(re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(norm(n)), norm(where)) for n in names), term
    assert (A.Ivosidenib, OBO.IAO_0000119, A["acs2022-section-idh"]) in g
    assert (A.Recommendation, OBO.IAO_0000119, None) not in g  # a modelling term: the ontology's own


def test_every_alt_label_is_an_obo_synonym_with_a_scope(tbox):
    for term, name in tbox.subject_objects(SKOS.altLabel):
        scopes = [p for p in SCOPES if (term, p, name) in tbox]
        assert len(scopes) == 1, (term, name)


def synonym_type(tbox, term, scope, name):
    for ax in tbox.subjects(OWL.annotatedSource, term):
        if (ax, OWL.annotatedProperty, scope) in tbox and (ax, OWL.annotatedTarget, Literal(name, lang="en")) in tbox:
            return tbox.value(ax, OIO.hasSynonymType)
    return None


def test_synonym_scopes_and_types(tbox):
    assert synonym_type(tbox, A.AcuteMyeloidLeukemia, OIO.hasExactSynonym, "AML") == OBO.OMO_0003012  # acronym
    assert synonym_type(tbox, A.Chemotherapy, OIO.hasExactSynonym, "chemo") == OBO.OMO_0003000  # abbreviation
    assert synonym_type(tbox, A.Ivosidenib, OIO.hasRelatedSynonym, "Tibsovo") == A.brandNameSynonymType
    assert synonym_type(tbox, A.Infection, OIO.hasRelatedSynonym, "infections") == OBO.OMO_0003004  # plural
    assert synonym_type(tbox, A.LowBloodCounts, OIO.hasNarrowSynonym, "anaemia") == OBO.OMO_0003005  # UK spelling
    assert (A.StemCellTransplant, OIO.hasBroadSynonym, Literal("HSCT", lang="en")) in tbox
    for typ in (OBO.OMO_0003000, OBO.OMO_0003003, OBO.OMO_0003004, OBO.OMO_0003005, OBO.OMO_0003012,
                A.brandNameSynonymType):
        assert (typ, RDFS.subPropertyOf, OIO.SynonymTypeProperty) in tbox, typ


def test_api_tokens_are_no_synonyms(tbox):
    names = {str(o) for p in (SKOS.altLabel,) + SCOPES for o in tbox.objects(None, p)}
    assert not names & {"ATRA+ATO", "ATRA+chemo", "FLT3+", "IDH1+", "IDH2+"}
    codes = {str(o) for o in tbox.objects(None, A.profileCode)}
    assert {"ATRA+ATO", "ATRA+chemo"} <= codes
    # the +-tokens stay findable by search and questions, as hidden labels
    assert (A.IDH1Mutation, SKOS.hiddenLabel, Literal("IDH1+", lang="en")) in tbox


def test_creators_and_contributors(tbox):
    ont = URIRef("https://w3id.org/amlkg/ontology")
    assert tbox.value(ont, DCT.creator) is not None and tbox.value(ont, DCT.contributor) is not None
