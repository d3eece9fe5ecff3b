"""The Protégé guide of ontology/README.md, done with owlready2 and HermiT on the built amlkg-full.owl:
open it, reason (no xsd:date for HermiT to choke on), find a recommendation and its quote, run the
guide's DL queries, classify the guide's patient case."""
from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import owlready2
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
DOCUMENT = (ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt").read_text(encoding="utf-8")
A = "https://w3id.org/amlkg/"
OA = "http://www.w3.org/ns/oa#"
CASE = """
<https://w3id.org/amlkg/case/case1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#NamedIndividual> .
<https://w3id.org/amlkg/case/case1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/AMLOtherThanAPL> .
<https://w3id.org/amlkg/case/case1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/RelapsedAML> .
<https://w3id.org/amlkg/case/case1> <https://w3id.org/amlkg/hasMutation> <https://w3id.org/amlkg/case/m1> .
<https://w3id.org/amlkg/case/case1> <https://w3id.org/amlkg/remissionDurationMonths> "8"^^<http://www.w3.org/2001/XMLSchema#decimal> .
<https://w3id.org/amlkg/case/m1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#NamedIndividual> .
<https://w3id.org/amlkg/case/m1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/IDH1Mutation> .
"""


@pytest.fixture(scope="module")
def reasoned(store_path, tmp_path_factory):
    """Step 1 and 2: open the full file, add the guide's DL queries and case, start HermiT once."""
    full = Path(store_path).parent / "release" / "amlkg-full.owl"
    world = owlready2.World()
    onto = world.get_ontology(full.as_uri()).load()
    world.get_ontology(A + "case/").load(fileobj=io.BytesIO(CASE.encode()), format="ntriples")
    t = lambda name: world[A + name]  # noqa: E731
    queries = world.get_ontology(A + "dl-queries/")
    with queries:
        q_idh1 = owlready2.types.new_class("QueryIDH1", (owlready2.Thing,))
        q_idh1.equivalent_to = [t("AcuteMyeloidLeukemia") & t("hasMutation").some(t("IDH1Mutation"))]
        q_advised = owlready2.types.new_class("QueryAdvised", (owlready2.Thing,))
        q_advised.equivalent_to = [t("Recommendation") & t("hasStrength").value(t("strength-advised"))]
        q_apl_in_aml = owlready2.types.new_class("QueryAPLInAML", (owlready2.Thing,))
        q_apl_in_aml.equivalent_to = [t("EarlyRelapsedAPL") & t("EarlyRelapsedAML")]
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("hermit"))
    try:  # no ignore_unsupported_datatypes: an xsd:date left in the file would stop HermiT here
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    finally:
        tempfile.tempdir = saved
    return world, onto, t, (q_idh1, q_advised, q_apl_in_aml)


def test_the_full_file_is_its_own_dated_release(reasoned, store_path):
    world, onto, _, _ = reasoned
    assert onto.base_iri.startswith("https://w3id.org/amlkg/ontology/amlkg-full.owl")
    text = (Path(store_path).parent / "release" / "amlkg-full.owl").read_text(encoding="utf-8")
    version = re.search(r'owl:versionIRI rdf:resource="([^"]+)"', text).group(1)
    assert re.fullmatch(r"https://w3id.org/amlkg/ontology/releases/\d{4}-\d{2}-\d{2}/[0-9a-f]{12}/amlkg-full.owl",
                        version), version
    assert "XMLSchema#date\"" not in text  # dates as xsd:dateTime, which HermiT reads


def test_step_2_no_class_is_unsatisfiable_but_the_guide_apl_query(reasoned):
    world, _, _, (_, _, q_apl_in_aml) = reasoned
    assert set(world.inconsistent_classes()) - {owlready2.Nothing} == {q_apl_in_aml}  # the guide's query ≡ Nothing
    assert "EarlyRelapsedAPL and EarlyRelapsedAML" in GUIDE


def test_step_3_a_recommendation_and_its_quote(reasoned):
    world, _, t, _ = reasoned
    recs = list(t("Recommendation").instances())
    assert len(recs) == 34 and "Recommendation" in GUIDE and "34 individuals" in GUIDE
    rec = t("acs2022-idh1-ivosidenib")
    assert rec in recs and "acs2022-idh1-ivosidenib" in GUIDE
    assert t("Ivosidenib") in t("recommends")[rec]
    assert t("strength-option") in t("hasStrength")[rec] and t("acs2022-section-idh") in t("inSection")[rec]
    quote = world["http://www.w3.org/ns/prov#wasDerivedFrom"][rec][0]
    assert quote.name == "acs2022-quote-2526-2859" and quote.name in GUIDE
    exact = [str(x) for sel in world[OA + "hasSelector"][quote] for x in world[OA + "exact"][sel]]
    assert len(exact) == 1 and exact[0] in DOCUMENT and exact[0].startswith("If the leukemia cells have an IDH1")
    assert DOCUMENT.index(exact[0]) == 2526
    strengths = {str(s.label[0]): s for s in t("Strength").instances()}
    for label in strengths:
        assert "`%s`" % label in GUIDE.split("### 4.")[0].split("### 3.")[1], label
    assert len(strengths) == 6


def test_step_4_dl_queries(reasoned):
    world, _, t, (q_idh1, q_advised, _) = reasoned
    assert "AcuteMyeloidLeukemia and hasMutation some IDH1Mutation" in GUIDE
    assert t("IDH1MutatedAML") in q_idh1.INDIRECT_equivalent_to
    assert "Recommendation and hasStrength value strength-advised" in GUIDE
    advised = {i.name for i in q_advised.instances()}
    assert "acs2022-late-relapse-transplant-younger" in advised and "acs2022-idh1-ivosidenib" not in advised


def test_step_4_the_guide_case_is_classified(reasoned):
    world, _, t, _ = reasoned
    case = world[A + "case/case1"]
    assert {t("IDH1MutatedAML"), t("EarlyRelapsedAML")} <= set(case.INDIRECT_is_a)
    assert "`IDH1MutatedAML`\nand `EarlyRelapsedAML`" in GUIDE or "IDH1MutatedAML`\nand `EarlyRelapsedAML" in GUIDE
