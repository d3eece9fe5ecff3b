"""One source for every threshold (issue 14): the numbers 12, 6 and 60 are written once, in the
datatype restrictions of the defined classes of ontology/amlkg.owl; the curated conditions name those
classes and the build reads the bounds from them, so the options finder and the reasoner agree. And an
APL case is never classified into a class of the other types of AML."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib
from rdflib import Literal

from loaders import acs_document
from loaders.reasoning import NUMBER_FIELDS, classify_profiles

XSD = rdflib.Namespace("http://www.w3.org/2001/XMLSchema#")  # (not rdflib.XSD, which warns when the doctest finder probes it)
ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "amlkg.owl"
CURATED = ROOT / "loaders" / "data" / "acs-recommendations.yaml"
A = rdflib.Namespace("https://w3id.org/amlkg/")
BOUNDS = (A.minInclusive, A.minExclusive, A.maxInclusive, A.maxExclusive)


@pytest.fixture(scope="module")
def tbox() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="xml")


def load_data(tbox: rdflib.Graph) -> rdflib.Graph:
    files = {"text": ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt", "recommendations": CURATED}
    return acs_document.load(files, tbox)


def test_the_defined_classes_hold_the_numbers(tbox):
    bounds = {str(c).rsplit("/", 1)[1]: (str(p).rsplit("/", 1)[1], str(b).rsplit("/", 1)[1], str(v))
              for c, (p, b, v) in acs_document.defined_bounds(tbox).items()}
    assert bounds == {
        "EarlyRelapsedAML": ("remissionDurationMonths", "maxExclusive", "12"),
        "LateRelapsedAML": ("remissionDurationMonths", "minInclusive", "12"),
        "EarlyRelapsedAPL": ("remissionDurationMonths", "maxInclusive", "6"),
        "LateRelapsedAPL": ("remissionDurationMonths", "minExclusive", "6"),
        "YoungerPatientAML": ("patientAgeYears", "maxExclusive", "60"),
    }


def test_the_curated_conditions_write_no_number():
    """remission and age conditions name a class, never a number of their own."""
    text = CURATED.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if re.match(r"\s+(remission_months|age):", line)]
    assert len(lines) >= 9
    assert all("class:" in line and not re.search(r"(at_least|at_most|under|more_than):", line) for line in lines)


def test_every_numeric_condition_agrees_with_its_class(tbox):
    data = load_data(tbox)
    defined = acs_document.defined_bounds(tbox)
    numeric = [c for c in set(data.subjects()) if any(data.value(c, b) is not None for b in BOUNDS)]
    assert len(numeric) >= 9
    for cond in numeric:
        cls = data.value(cond, A.boundsFrom)
        prop, bound, value = defined[cls]
        field = str(tbox.value(data.value(cond, A.onFactor), A.profileField))
        assert NUMBER_FIELDS[field] == prop, cond
        assert [(b, data.value(cond, b)) for b in BOUNDS if data.value(cond, b) is not None] == \
            [(bound, Literal(str(value), datatype=XSD.decimal))], cond


def test_changing_the_class_changes_the_condition(tbox):
    """The bound is generated from the class: move LateRelapsedAML to 13 months and the late-relapse
    conditions follow."""
    moved = rdflib.Graph()
    for s, p, o in tbox:
        if p == XSD.minInclusive and o == Literal("12", datatype=XSD.decimal):
            o = Literal("13", datatype=XSD.decimal)
        moved.add((s, p, o))
    data = load_data(moved)
    late = {data.value(c, A.minInclusive) for c in data.subjects(A.boundsFrom, A.LateRelapsedAML)}
    assert late == {Literal("13", datatype=XSD.decimal)}


def test_a_number_in_the_curated_data_is_refused(tbox, tmp_path):
    text = CURATED.read_text(encoding="utf-8").replace("{class: LateRelapsedAML,", "{at_least: 12,", 1)
    broken = tmp_path / "recs.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(acs_document.DataError, match="needs `class:`"):
        acs_document.load({"text": ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt",
                           "recommendations": broken}, tbox)


def test_hermit_never_puts_an_apl_case_in_a_class_of_other_aml(tbox):
    apl_7, apl_4_young, aml_7 = classify_profiles(tbox, [
        {"disease": "APL", "status": "relapsed", "remission_months": 7},
        {"disease": "APL", "status": "relapsed", "remission_months": 4, "age": 40},
        {"disease": "AML", "status": "relapsed", "remission_months": 7, "age": 40},
    ])
    aml_only = {"EarlyRelapsedAML", "LateRelapsedAML", "YoungerPatientAML", "AMLOtherThanAPL"}
    assert "LateRelapsedAPL" in apl_7 and not apl_7 & aml_only
    assert "EarlyRelapsedAPL" in apl_4_young and not apl_4_young & aml_only
    assert {"EarlyRelapsedAML", "YoungerPatientAML", "AMLOtherThanAPL"} <= aml_7
