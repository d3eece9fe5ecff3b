"""The ontology (ontology/amlkg.owl), its SHACL shapes and QC queries, and the reasoning module.

HermiT starts a JVM per run, so the runs are shared through module-scoped fixtures (four in all).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import owlready2
import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from loaders.reasoning import (  # noqa: E402
    ReasoningError, _run_hermit, _to_world, classify_profile, classify_profiles, infer, profile_codes,
)

ONTOLOGY = ROOT / "ontology" / "amlkg.owl"
SHAPES = ROOT / "ontology" / "shapes" / "amlkg-shapes.ttl"
QC_DIR = ROOT / "ontology" / "qc"
XREFS = ROOT / "loaders" / "data" / "xrefs.tsv"
SHARED = ROOT.parent / "shared"
AMLKG = rdflib.Namespace("https://w3id.org/amlkg/")


def shared_tool(*parts: str) -> Path:
    """A checker under ../shared, or skip: the shared checkers live beside the project, not in it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent: the shared checkers (owlcheck, robot_like) live beside the "
                    "project in CI, expected at %s" % SHARED)
    return SHARED.joinpath(*parts)


@pytest.fixture(scope="module")
def tbox() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="xml")


@pytest.fixture(scope="module")
def inferred(tbox, tmp_path_factory):
    """infer() once, with the default temporary directory pointed at an empty folder we can inspect."""
    watched = tmp_path_factory.mktemp("reasoner-tmp")
    saved = tempfile.tempdir
    tempfile.tempdir = str(watched)
    try:
        result = infer(tbox)
    finally:
        tempfile.tempdir = saved
    return result, watched


# ------------------------------------------------------------------ the file itself
def test_owl_parses_as_rdfxml(tbox):
    assert (URIRef("https://w3id.org/amlkg/ontology"), RDF.type, OWL.Ontology) in tbox
    assert len(tbox) > 500


def test_ontology_header(tbox):
    ont = URIRef("https://w3id.org/amlkg/ontology")
    DCT = rdflib.Namespace("http://purl.org/dc/terms/")
    assert tbox.value(ont, OWL.versionIRI) == URIRef("https://w3id.org/amlkg/ontology/1.0.0")
    assert tbox.value(ont, DCT.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert "2022-12-01" in str(tbox.value(ont, DCT.source))
    assert "not medical advice" in str(tbox.value(ont, RDFS.comment)).lower()
    for p in (DCT.title, DCT.description):
        assert tbox.value(ont, p) is not None


def test_owlready2_loads_the_file():
    world = owlready2.World()
    onto = world.get_ontology("file://" + str(ONTOLOGY)).load()
    assert onto.base_iri.startswith("https://w3id.org/amlkg/ontology")
    ivosidenib, idh1_inhibitor = world[AMLKG.Ivosidenib], world[AMLKG.IDH1Inhibitor]
    assert ivosidenib is not None and ivosidenib in idh1_inhibitor.descendants()


def test_every_entity_has_exactly_one_english_label_and_a_definition(tbox):
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual)
    entities = {s for k in kinds for s in tbox.subjects(RDF.type, k) if isinstance(s, URIRef)}
    assert len(entities) > 140
    problems = []
    for e in sorted(entities):
        labels = list(tbox.objects(e, RDFS.label))
        if len(labels) != 1 or labels[0].language != "en":
            problems.append("%s labels %r" % (e, labels))
        if len(list(tbox.objects(e, SKOS.definition))) != 1:
            problems.append("%s has no single skos:definition" % e)
    assert not problems, problems


def test_labels_are_unique(tbox):
    seen = {}
    for s, label in tbox.subject_objects(RDFS.label):
        key = (str(label).casefold(), label.language)
        assert seen.setdefault(key, s) == s, "label %r used by %s and %s" % (str(label), seen[key], s)


def test_no_punning(tbox):
    kinds = {OWL.Class: "class", OWL.ObjectProperty: "property", OWL.DatatypeProperty: "property",
             OWL.AnnotationProperty: "property", OWL.NamedIndividual: "individual"}
    by_iri = {}
    for k, name in kinds.items():
        for s in tbox.subjects(RDF.type, k):
            by_iri.setdefault(s, []).append(k)
    assert {s: ks for s, ks in by_iri.items() if len(ks) > 1} == {}


def test_cross_references_come_from_the_reference_table(tbox):
    with open(XREFS, newline="", encoding="utf-8") as fh:
        known = {row["iri"] for row in csv.DictReader(fh, delimiter="\t") if row["iri"]}
    used = {str(o) for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
            for o in tbox.objects(None, p)}
    assert used, "no cross-references at all"
    assert used <= known, sorted(used - known)
    assert not any("RxNav" in iri for iri in used), "RxNorm has no RDF IRI"


def test_brand_names(tbox):
    brands = {str(tbox.value(c, RDFS.label)): str(b) for c, b in tbox.subject_objects(AMLKG.brandName)}
    assert {"gilteritinib": "Xospata", "ivosidenib": "Tibsovo", "olutasidenib": "Rezlidhia",
            "enasidenib": "Idhifa", "gemtuzumab ozogamicin": "Mylotarg"}.items() <= brands.items()


def test_profile_codes_cover_the_api_tokens(tbox):
    codes = profile_codes(tbox)
    local = {code: str(cls).rsplit("/", 1)[1] for code, cls in codes.items()}
    assert local["aml"] == "AMLOtherThanAPL" and local["apl"] == "AcutePromyelocyticLeukemia"
    for token in ("refractory", "relapsed", "flt3", "idh1", "idh2", "marrow", "cns", "atra+ato",
                  "atra+chemo", "pain", "low_blood_counts", "fatigue", "nausea", "appetite_loss", "infection"):
        assert token in codes, token


def test_profile_factors_and_strengths(tbox):
    factors = set(tbox.subjects(RDF.type, AMLKG.ProfileFactor))
    assert len(factors) == 14
    fields = {str(tbox.value(f, AMLKG.profileField)) for f in factors if tbox.value(f, AMLKG.profileField)}
    assert fields == {"disease", "status", "mutations", "remission_months", "age", "prior_therapy", "site", "symptoms",
                      "fit", "donor", "prior_transplant", "keeps_coming_back"}
    assert tbox.value(AMLKG["factor-symptom"], AMLKG.mustBeStated).toPython() is True
    ranks = {str(tbox.value(s, RDFS.label)): tbox.value(s, AMLKG.strengthRank).toPython()
             for s in tbox.subjects(RDF.type, AMLKG.Strength)}
    assert ranks == {"advised": 1, "usual": 2, "often effective": 2, "likely helpful": 3, "option": 4,
                     "not likely helpful": 9}


def test_strength_definitions_say_what_the_document_says(tbox):
    """Issue 16, item 12: "not likely helpful" is not advice against; "likely helpful" does not borrow
    the wording mapped to "usual"; the README lists every strength."""
    definition = {str(tbox.value(s, RDFS.label)): str(tbox.value(s, SKOS.definition))
                  for s in tbox.subjects(RDF.type, AMLKG.Strength)}
    assert "advice against:" not in definition["not likely helpful"].lower()
    assert "does not advise against" in definition["not likely helpful"]
    assert "most likely be" not in definition["likely helpful"] and "most likely be" in definition["usual"]
    rank = str(tbox.value(AMLKG.strengthRank, SKOS.definition))
    assert "advice against" not in rank
    readme = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
    for label in definition:
        assert "`%s`" % label in readme, label


def test_variant_names_are_classes_below_their_gene_mutation(tbox):
    """Issue 16, item 3: variant names map to gene-level mutation classes through the ontology, with
    no identifier invented for them."""
    below = {"FLT3 D835Y": "FLT3Mutation", "IDH1 R132H": "IDH1Mutation", "IDH1 R132C": "IDH1Mutation",
             "IDH2 R140Q": "IDH2Mutation", "IDH2 R172K": "IDH2Mutation", "FLT3-ITD": "FLT3Mutation",
             "FLT3-TKD": "FLT3Mutation"}
    for name, gene_class in below.items():
        cls = next(s for p in (RDFS.label, SKOS.altLabel) for s in tbox.subjects(p, Literal(name, lang="en")))
        assert AMLKG[gene_class] in set(tbox.transitive_objects(cls, RDFS.subClassOf)), name
        if name[4] == " ":
            assert tbox.value(cls, SKOS.exactMatch) is None, name


# ------------------------------------------------------------------ reasoning
def test_hermit_finds_the_ontology_consistent(inferred):
    result, _ = inferred  # infer() raises ReasoningError on inconsistency or an unsatisfiable class
    assert isinstance(result, rdflib.Graph)


def test_infer_returns_only_new_triples(tbox, inferred):
    result, _ = inferred
    # APL has bounds of its own: the AML-other-than-APL relapse classes never take in an APL class
    assert (AMLKG.EarlyRelapsedAPL, RDFS.subClassOf, AMLKG.EarlyRelapsedAML) not in result
    assert not [t for t in result if t in tbox]
    assert {p for _, p, _ in result} <= {RDFS.subClassOf, OWL.equivalentClass, SKOS.altLabel}


def test_infer_materialises_brand_names_as_alt_labels(inferred):
    result, _ = inferred
    for cls, brand in [("Gilteritinib", "Xospata"), ("Ivosidenib", "Tibsovo"), ("Olutasidenib", "Rezlidhia"),
                       ("Enasidenib", "Idhifa"), ("GemtuzumabOzogamicin", "Mylotarg")]:
        assert (AMLKG[cls], SKOS.altLabel, Literal(brand, lang="en")) in result


def test_infer_leaves_no_files_and_does_not_touch_the_source(inferred):
    _, watched = inferred
    assert list(Path(watched).iterdir()) == []
    assert rdflib.Graph().parse(ONTOLOGY, format="xml")  # still the same, parseable file


def test_infer_reports_an_unsatisfiable_class_and_cleans_up(tbox, tmp_path, monkeypatch):
    broken = rdflib.Graph()
    broken += tbox
    broken.add((AMLKG.Broken, RDF.type, OWL.Class))
    broken.add((AMLKG.Broken, RDFS.subClassOf, AMLKG.TreatmentProcess))
    broken.add((AMLKG.Broken, RDFS.subClassOf, AMLKG.DrugOrSupplement))  # what is done, what is given: disjoint
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ReasoningError, match="Broken"):
        infer(broken)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def classified(tbox):
    """Cases (b), (c), (d) classified with one HermiT run."""
    profiles = [
        {"disease": "AML", "status": "relapsed", "remission_months": 12},
        {"disease": "APL", "status": "relapsed", "remission_months": 4, "prior_therapy": "ATRA+ATO"},
        {"disease": "AML", "status": "refractory", "mutations": "flt3,KIT", "symptoms": ["pain", "nausea"],
         "remission_months": 4},
    ]
    return classify_profiles(tbox, profiles)


def test_classify_relapsed_idh1_young_early(tbox):
    found = classify_profile(tbox, {"disease": "AML", "status": "relapsed", "mutations": ["IDH1"],
                                    "remission_months": 8, "age": 45})
    assert {"IDH1MutatedAML", "EarlyRelapsedAML", "YoungerPatientAML", "RelapsedAML",
            "AcuteMyeloidLeukemia"} <= found
    assert not found & {"LateRelapsedAML", "IDH2MutatedAML", "FLT3MutatedAML", "CNSRelapsedAML",
                        "AcutePromyelocyticLeukemia", "RefractoryAML"}


def test_classify_late_relapse(classified):
    assert "LateRelapsedAML" in classified[0]
    assert "EarlyRelapsedAML" not in classified[0]
    assert "YoungerPatientAML" not in classified[0]  # no age given: not assumed


def test_classify_early_relapsed_apl(classified):
    assert {"EarlyRelapsedAPL", "AcutePromyelocyticLeukemia", "RelapsedAML"} <= classified[1]
    assert "AMLOtherThanAPL" not in classified[1]
    assert "LateRelapsedAPL" not in classified[1]


def test_classify_aml_other_than_apl(classified):
    # "AML" is the profile code of AMLOtherThanAPL, so the case is asserted not to be APL.
    found = classified[2]
    assert {"AMLOtherThanAPL", "AcuteMyeloidLeukemia", "RefractoryAML", "FLT3MutatedAML"} <= found
    assert not found & {"AcutePromyelocyticLeukemia", "EarlyRelapsedAPL", "EarlyRelapsedAML", "RelapsedAML"}


def test_hermit_needs_not_apl_stated_to_infer_aml_other_than_apl(tbox):
    """Open world: a case that is only AML is not known to be non-APL; AML ⊓ ¬APL is classified."""
    g = rdflib.Graph()
    g += tbox
    only_aml, not_apl, complement = AMLKG["case-only-aml"], AMLKG["case-not-apl"], BNode()
    for case in (only_aml, not_apl):
        g.add((case, RDF.type, OWL.NamedIndividual))
        g.add((case, RDF.type, AMLKG.AcuteMyeloidLeukemia))
    g.add((complement, RDF.type, OWL.Class))
    g.add((complement, OWL.complementOf, AMLKG.AcutePromyelocyticLeukemia))
    g.add((not_apl, RDF.type, complement))
    world = _to_world(g)
    _run_hermit(world)
    assert world[str(AMLKG.AMLOtherThanAPL)] in world[str(not_apl)].INDIRECT_is_a
    assert world[str(AMLKG.AMLOtherThanAPL)] not in world[str(only_aml)].INDIRECT_is_a


def test_classify_rejects_unknown_codes(tbox):
    with pytest.raises(ValueError):
        classify_profile(tbox, {"disease": "CML", "status": "relapsed"})
    with pytest.raises(ValueError):
        classify_profile(tbox, {"status": "relapsed", "site": "IDH1"})  # a code of the wrong kind
    with pytest.raises(ValueError):
        classify_profile(tbox, {"status": "relapsed", "age": "old"})


# ------------------------------------------------------------------ shapes and QC queries
SAMPLE = """
@prefix amlkg: <https://w3id.org/amlkg/> . @prefix oa: <http://www.w3.org/ns/oa#> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
amlkg:rec-test a amlkg:Recommendation ; rdfs:label "test recommendation" ;
    amlkg:recommends amlkg:Ivosidenib ; amlkg:hasStrength amlkg:strength-option ;
    amlkg:inSection amlkg:section-test ; amlkg:hasCondition amlkg:rec-test-c1 ; amlkg:recommendationOrder 1 ;
    prov:wasDerivedFrom [ a oa:SpecificResource ; oa:hasSource amlkg:document-test ;
        oa:hasSelector [ a oa:TextQuoteSelector ; oa:exact "one option might be" ] ,
                       [ a oa:TextPositionSelector ; oa:start 10 ; oa:end 29 ] ] .
amlkg:section-test a amlkg:DocumentSection ; rdfs:label "test section" .
amlkg:document-test a amlkg:SourceDocument ; rdfs:label "test document" .
amlkg:rec-test-c1 a amlkg:Condition ; rdfs:label "test condition" ; amlkg:onFactor amlkg:factor-mutation ;
    amlkg:conditionText "if the leukemia cells have an IDH1 mutation" ; amlkg:requiresValue amlkg:IDH1Mutation .
amlkg:approval-test a amlkg:RegulatoryApproval ; rdfs:label "test approval" ; amlkg:approvedDrug amlkg:Ivosidenib ;
    amlkg:approvalDate "2018-07-20"^^xsd:date ; amlkg:applicationNumber "NDA211192" .
"""
BROKEN = """
@prefix amlkg: <https://w3id.org/amlkg/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
amlkg:rec-broken a amlkg:Recommendation ; rdfs:label "broken recommendation" ;
    amlkg:recommends amlkg:IDH1Mutation ; amlkg:hasStrength amlkg:factor-age .
amlkg:rec-broken-c1 a amlkg:Condition ; amlkg:onFactor amlkg:strength-option ; amlkg:requiresValue amlkg:NoSuchClass .
amlkg:approval-broken a amlkg:RegulatoryApproval ; rdfs:label "Broken Recommendation" ; amlkg:approvedDrug amlkg:Pain ; amlkg:approvalDate "2018-07-20" .
"""


def _validate(data: str, tbox):
    import pyshacl
    shapes = rdflib.Graph().parse(SHAPES, format="turtle")
    data_graph = rdflib.Graph().parse(data=data, format="turtle")
    conforms, _, text = pyshacl.validate(data_graph, shacl_graph=shapes, ont_graph=tbox)
    return conforms, text


def test_shapes_accept_a_well_formed_recommendation(tbox):
    conforms, text = _validate(SAMPLE, tbox)
    assert conforms, text


def test_shapes_report_a_broken_recommendation(tbox):
    conforms, text = _validate(BROKEN, tbox)
    assert not conforms
    for message in ("exactly one strength", "exactly one document section", "exactly one quoted passage",
                    "exactly one profile factor", "exactly one conditionText", "an xsd:date",
                    "applicationNumber or an indicationText"):
        assert message in text, message


def _qc_rows(data: rdflib.Graph) -> dict[str, list]:
    out = {}
    for rq in sorted(QC_DIR.glob("*-violation.rq")):
        out[rq.name] = list(data.query(rq.read_text(encoding="utf-8")))
    return out


def test_qc_queries_have_a_summary_header():
    files = sorted(QC_DIR.glob("*-violation.rq"))
    assert len(files) >= 5
    for rq in files:
        assert rq.read_text(encoding="utf-8").startswith("# summary: "), rq.name


def test_qc_queries_pass_on_the_ontology_and_a_good_sample(tbox):
    g = rdflib.Graph()
    g += tbox
    g.parse(data=SAMPLE, format="turtle")
    failing = {name: rows for name, rows in _qc_rows(g).items() if rows}
    assert failing == {}


def test_qc_queries_catch_a_broken_sample(tbox):
    g = rdflib.Graph()
    g += tbox
    g.parse(data=BROKEN, format="turtle")
    rows = _qc_rows(g)
    for name in ("missing-label-violation.rq", "duplicate-label-violation.rq",
                 "recommendation-without-quote-violation.rq", "recommends-non-therapy-violation.rq",
                 "requires-unknown-value-violation.rq", "condition-unknown-factor-violation.rq",
                 "approved-drug-non-therapy-violation.rq"):
        assert rows[name], name


def test_qc_queries_run_on_pyoxigraph_union_default_graph(tbox):
    """The build runs the QC queries on the store, with the default graph as the union of all graphs."""
    pyoxigraph = pytest.importorskip("pyoxigraph")
    store = pyoxigraph.Store()
    data = tbox.serialize(format="nt", encoding="utf-8")
    store.load(data, format=pyoxigraph.RdfFormat.N_TRIPLES,
               to_graph=pyoxigraph.NamedNode("https://w3id.org/amlkg/graph/ontology"))
    for rq in sorted(QC_DIR.glob("*-violation.rq")):
        rows = list(store.query(rq.read_text(encoding="utf-8"), use_default_graph_as_union=True))
        assert rows == [], rq.name


# ------------------------------------------------------------------ shared checkers
#: the OWL files the guide (ontology/README.md) names: the edit file and the OWL release files
OWL_FILES = ("amlkg.owl", "amlkg-full.owl", "amlkg-base.owl", "amlkg-inferred.owl")


def owl_file(name: str, request) -> Path:
    """The edit file, or a release file of the session's build."""
    if name == "amlkg.owl":
        return ONTOLOGY
    return Path(request.getfixturevalue("store_path")).parent / "release" / name


def test_the_guide_names_every_owl_file():
    guide = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
    for name in OWL_FILES:
        assert "`%s`" % name in guide or "`ontology/%s`" % name in guide, name


@pytest.mark.parametrize("name", OWL_FILES)
def test_owlcheck_passes(name, request):
    script = shared_tool("tools", "owlcheck", "owlcheck.sh")
    not_root = hasattr(os, "geteuid") and os.geteuid() != 0
    if not_root and (shutil.which("javac") is None or not Path("/usr/share/java/owlapi-distribution.jar").exists()):
        pytest.skip("owlcheck needs a Java compiler and the OWL API: install openjdk-17-jdk-headless and "
                    "libowlapi-java (apt-get install openjdk-17-jdk-headless libowlapi-java), or run as root")
    proc = subprocess.run(["bash", str(script), str(owl_file(name, request))], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, proc.stderr[-2000:]
    assert lines[-1].endswith(" 0 failed"), proc.stdout[-4000:]
    assert "PASS dl-profile" in proc.stdout and "PASS consistent" in proc.stdout


@pytest.mark.parametrize("name", OWL_FILES)
def test_robot_like_report_passes(name, request):
    """ROBOT's report rules: no ERROR, and every class and property defined (IAO:0000115)."""
    script = shared_tool("tools", "owlcheck", "robot_like.py")
    proc = subprocess.run([sys.executable, str(script), str(owl_file(name, request))], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].endswith(" 0 failed")
    rows = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    assert not [r for r in rows if r[0] == "ERROR"], proc.stdout[-4000:]
    assert not [r for r in rows if r[1:2] == ["missing_definition"]], proc.stdout[-4000:]
    assert re.search(r"^ERROR:\s+0$", proc.stdout, re.M), proc.stdout[-2000:]
