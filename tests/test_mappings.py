"""Cross-references: the corrections of the reference table (../shared/reference/README.md,
"Corrections"), the table's `match` column and confidence rule, and the SSSOM mapping set the build
writes (validated with the reference `sssom` library)."""
from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import SKOS

from kg_service import mappings
from kg_service.xrefs import rows_by_iri
from loaders.ontology import load as load_ontology

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "amlkg.owl"
A = rdflib.Namespace("https://w3id.org/amlkg/")
OBO = rdflib.Namespace("http://purl.obolibrary.org/obo/")


@pytest.fixture(scope="module")
def tbox() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="xml")


def predicates(tbox, subject, target) -> set[str]:
    return {p.rsplit("#", 1)[1] for p in mappings.PREDICATES.values() if (subject, p, target) in tbox}


def test_the_project_copy_of_the_reference_table_is_the_corrected_one():
    shared = ROOT.parent / "shared" / "reference" / "xrefs.tsv"
    if not shared.exists():
        pytest.skip("../shared is absent: the reference table lives beside the project")
    assert (ROOT / "loaders" / "data" / "xrefs.tsv").read_bytes() == shared.read_bytes()


def test_rejected_maxo_supportive_care_is_gone(tbox):
    assert not list(tbox.subject_predicates(OBO.MAXO_0000950))
    assert "MAXO_0000950" not in (ROOT / "loaders" / "data" / "xrefs.tsv").read_text(encoding="utf-8")


def test_corrected_predicates(tbox):
    assert predicates(tbox, A.SupportiveCare, OBO.MAXO_0000021) == {"closeMatch"}
    # ours is a transplant from a donor: narrower than HSCT in general, the same as allogeneic HSCT
    assert predicates(tbox, A.StemCellTransplant, OBO.MAXO_0000747) == {"broadMatch"}
    assert predicates(tbox, A.StemCellTransplant, OBO.MAXO_0001479) == {"exactMatch"}
    # route and course qualifiers are no therapies
    assert predicates(tbox, A.IntrathecalChemotherapy, OBO.NCIT_C173292) == {"relatedMatch"}
    assert predicates(tbox, A.ReinductionChemotherapy, OBO.NCIT_C158876) == {"relatedMatch"}


def test_apl_exact_mappings_are_all_the_generic_disease(tbox):
    """The document's APL is the disease, not its PML-RARA-defined class: the generic classes are exact
    (NCIt C208352, DOID:0060318, Mondo, MeSH), the PML-RARA ones narrower matches."""
    exact = set(tbox.objects(A.AcutePromyelocyticLeukemia, SKOS.exactMatch))
    assert {OBO.NCIT_C208352, OBO.DOID_0060318, OBO.MONDO_0012883} <= exact
    assert not exact & {OBO.NCIT_C3182, OBO.DOID_0081081}
    for specific in (OBO.NCIT_C3182, OBO.DOID_0081081):
        assert predicates(tbox, A.AcutePromyelocyticLeukemia, specific) == {"narrowMatch"}


def test_every_mapping_follows_the_reference_table(tbox):
    assert mappings.problems(tbox) == []
    rows = rows_by_iri()
    for s, p, o in mappings.mapping_triples(tbox):
        row = rows[str(o)]
        if row["match"]:
            assert p == mappings.PREDICATES[row["match"]], (s, o)
        if row["confidence"] == "low":
            assert p != SKOS.exactMatch, (s, o)


def test_the_build_refuses_a_mapping_the_table_rules_out(tmp_path):
    text = ONTOLOGY.read_text(encoding="utf-8").replace(
        '<skos:broadMatch rdf:resource="http://purl.obolibrary.org/obo/MAXO_0000747"/>',
        '<skos:exactMatch rdf:resource="http://purl.obolibrary.org/obo/MAXO_0000747"/>')
    broken = tmp_path / "amlkg.owl"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="MAXO:0000747.*skos:broadMatch"):
        load_ontology({"ontology": broken})
    assert len(load_ontology({"ontology": ONTOLOGY})) > 500


def test_sssom_file_of_the_build_is_valid_and_matches_the_owl(store_path, tbox):
    pytest.importorskip("sssom", reason="the sssom library (test extra) validates the mapping set")
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate
    path = Path(store_path).parent / "release" / "amlkg.sssom.tsv"
    msdf = parse_sssom_table(str(path))
    reports = validate(msdf, fail_on_error=False)
    assert all(not report.results for report in reports.values()), reports
    conv = msdf.converter
    rows = {(conv.expand(r.subject_id), conv.expand(r.predicate_id), conv.expand(r.object_id))
            for r in msdf.df.itertuples()}
    owl = {(str(s), str(p), str(o)) for s, p, o in mappings.mapping_triples(tbox)}
    assert rows == owl
    df = msdf.df.set_index("object_id")
    assert df.loc["MAXO:0000021", "predicate_id"] == "skos:closeMatch"
    assert df.loc["MAXO:0000747", "predicate_id"] == "skos:broadMatch"
    assert df.loc["MAXO:0001479", "predicate_id"] == "skos:exactMatch"
    assert "MAXO:0000950" not in df.index
    assert set(df["confidence"]) <= set(mappings.CONFIDENCE.values())
    assert df["comment"].str.contains("source: ").all()


def test_the_graph_carries_each_mappings_source_and_confidence():
    """The ontology graph the build loads annotates every mapping with the table's source and confidence."""
    graph = load_ontology({"ontology": ONTOLOGY})
    OWL = rdflib.OWL
    triples = mappings.mapping_triples(graph)
    annotated = {}
    for ax in graph.subjects(rdflib.RDF.type, OWL.Axiom):
        key = (graph.value(ax, OWL.annotatedSource), graph.value(ax, OWL.annotatedProperty),
               graph.value(ax, OWL.annotatedTarget))
        annotated[key] = (graph.value(ax, mappings.DCT_SOURCE), graph.value(ax, mappings.SSSOM_CONFIDENCE))
    assert set(triples) <= set(annotated)
    source, confidence = annotated[(A.StemCellTransplant, SKOS.broadMatch, OBO.MAXO_0000747)]
    assert "MAxO" in str(source) and confidence.toPython() == mappings.CONFIDENCE["high"]
