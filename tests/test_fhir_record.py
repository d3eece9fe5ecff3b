"""Reading FHIR R4 records into the options finder's profile (kg_service.fhir.record), case by case:
what the record settles, what it leaves open, and the records it refuses."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kg_service.fhir.record import RecordError, flatten, read_record, settle, validate
from tests.api import fhir_records as fx

TODAY = dt.date(2026, 6, 1)
BOUNDS = {"age": [Decimal(60)], "remission_months": [Decimal(6), Decimal(12)]}


def read(*resources, patient_id=fx.PATIENT):
    resources = [r for res in resources for r in flatten(validate(res))]
    reading = read_record(resources, patient_id, today=TODAY)
    return reading, settle(reading, BOUNDS)


def relapsed():
    return fx.condition("c1", fx.AML, clinical="relapse")


def test_a_birth_year_alone_settles_age_only_when_both_ages_fall_on_one_side_of_60():
    reading, fields = read(fx.patient("1966"), relapsed())       # 59 or 60
    assert "age" not in fields and any("age is between 59 and 60" in n for n in reading.notes)
    _, fields = read(fx.patient("1950"), relapsed())             # 75 or 76
    assert fields["age"] == 75


def test_present_and_absent_for_one_gene_leave_it_open():
    reading, fields = read(relapsed(), fx.variant("a", "FLT3", True), fx.variant("b", "FLT3", False),
                           fx.variant("c", "IDH2", False))
    assert fields["absent_mutations"] == ["IDH2"] and fields["mutations"] == []
    assert any(n.startswith("FLT3: the record's results do not settle it") for n in reading.notes)


def test_absent_only_claims_the_tested_gene():
    reading, fields = read(relapsed(), fx.variant("a", "IDH1", False))
    assert fields["absent_mutations"] == ["IDH1"] and fields["mutations"] == []
    assert "no result for FLT3, IDH2 in the record: left open" in reading.notes


def test_hgnc_id_without_prefix_and_clinical_status_without_system():
    condition = fx.condition("c1", fx.AML)
    condition["clinicalStatus"] = {"coding": [{"code": "relapse"}]}
    observation = fx.variant("a", "IDH2", True)
    observation["component"][0]["valueCodeableConcept"]["coding"][0]["code"] = "5383"
    reading, fields = read(condition, observation)
    assert reading.statuses == ["relapsed"] and fields["mutations"] == ["IDH2"]


def test_resources_about_another_patient_and_entered_in_error_are_not_read():
    other = fx.condition("c9", fx.REFRACTORY_AML_NCIT)
    other["subject"] = {"reference": "Patient/someone-else"}
    wrong = fx.variant("a", "FLT3", True)
    wrong["status"] = "entered-in-error"
    reading, fields = read(relapsed(), other, wrong)
    assert reading.statuses == ["relapsed"] and "mutations" not in fields


def test_relapsed_and_refractory_codes_together_leave_status_open():
    reading, _ = read(fx.condition("c1", fx.RELAPSED_AML_ICD), fx.condition("c2", fx.REFRACTORY_AML_NCIT))
    assert reading.statuses == ["relapsed", "refractory"]
    assert any("both relapsed and refractory" in n for n in reading.notes)


def test_contained_medication_and_chemotherapy_procedure_give_atra_plus_chemo():
    request = {"resourceType": "MedicationRequest", "id": "r1", "status": "completed", "intent": "order",
               "subject": {"reference": "Patient/p1"}, "medicationReference": {"reference": "#atra"},
               "contained": [{"resourceType": "Medication", "id": "atra",
                              "code": {"coding": [{"system": fx.RXNORM, "code": "10753"}]}}]}
    procedure = {"resourceType": "Procedure", "id": "x1", "status": "completed", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [{"system": fx.NCIT, "code": "C15632"}]}}
    _, fields = read(fx.condition("c1", fx.APL_RELAPSE_ICD), request, procedure)
    assert fields["disease"] == "APL" and fields["prior_therapy"] == "ATRA+chemo"


def test_tretinoin_alone_leaves_prior_apl_therapy_open():
    reading, fields = read(fx.condition("c1", fx.APL_RELAPSE_ICD), fx.medication_statement("m1", "10753"))
    assert "prior_therapy" not in fields and any("prior APL treatment left open" in n for n in reading.notes)


def test_a_remission_in_a_resolved_condition_without_relapse_leaves_status_open():
    reading, _ = read(fx.condition("c1", (fx.ICD, "C92.01"), clinical="resolved", abated="2025-01-01"))
    assert reading.has_aml and reading.statuses == ["relapsed", "refractory"]
    assert any("in remission" in n for n in reading.notes)


def test_no_aml_code_means_no_aml():
    reading, _ = read(fx.condition("c1", (fx.SCT, "44054006")), fx.variant("a", "FLT3", True))
    assert not reading.has_aml


@pytest.mark.parametrize("resource, named", [
    ([], "resource"),
    ({"id": "x"}, "resource"),
    ({"resourceType": "Nonsense"}, "Nonsense/?"),
    ({"resourceType": "Observation", "id": "o1", "status": "final"}, "Observation/o1"),   # code is 1..1
    (fx.searchset({"resourceType": "Condition", "id": "c7", "code": {"text": "x"}}), "Condition/c7"),
])
def test_invalid_resources_are_named(resource, named):
    with pytest.raises(RecordError) as e:
        validate(resource)
    assert named in e.value.errors


# -- odd but possibly valid records never break the reader ---------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUES = st.none() | st.booleans() | st.integers(-3, 3000) | st.sampled_from(
    ["relapse", "remission", "final", "91861009", "C92.02", "HGNC:3765", "LA9633-4", "1960", "2023-02",
     "2024-01-31T10:00:00Z", "Patient/p1", "Patient/other", "#m1", "Medication/ato", ""])
_JSON = st.recursive(_VALUES, lambda inner: st.lists(inner, max_size=2)
                     | st.dictionaries(st.sampled_from(["system", "code", "coding", "text", "reference", "x"]), inner,
                                       max_size=3), max_leaves=8)


def _walk(node, data, depth=0):
    """Change one value somewhere in a resource (a dict or list inside it, or a leaf)."""
    if isinstance(node, dict) and node and depth < 6:
        key = data.draw(st.sampled_from(sorted(node)))
        if key != "resourceType" and data.draw(st.integers(0, 3)) == 0:
            node[key] = data.draw(_JSON)
        else:
            _walk(node[key], data, depth + 1)
    elif isinstance(node, list) and node:
        _walk(node[data.draw(st.integers(0, len(node) - 1))], data, depth + 1)


@settings(max_examples=400, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_mutated_record_is_either_refused_or_read(data):
    import copy
    body = copy.deepcopy(fx.RECORDS[data.draw(st.sampled_from(sorted(fx.RECORDS)))])
    values = list(body["prefetch"].values())
    for _ in range(data.draw(st.integers(1, 3))):
        _walk(data.draw(st.sampled_from(values)), data)
    try:
        resources = [r for v in values for r in flatten(validate(v))]
    except RecordError:
        return
    reading = read_record(resources, fx.PATIENT, today=TODAY)
    settle(reading, BOUNDS)


# -- the code table ------------------------------------------------------------------------------
def test_every_code_names_its_source_and_those_from_xrefs_are_there():
    import csv

    from kg_service.fhir.codes import CODES_TSV
    from kg_service.xrefs import XREFS_TSV
    with XREFS_TSV.open(encoding="utf-8") as fh:
        xrefs = {(r["scheme"], r["id"]) for r in csv.DictReader(fh, delimiter="\t")}
    scheme_of = {fx.NCIT: "NCIt", fx.RXNORM: "RxNorm", fx.HPO: "HPO",
                 "http://www.genenames.org/geneId": "HGNC", "http://www.genenames.org": "HGNC"}
    with CODES_TSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) > 40
    for row in rows:
        assert row["source"].strip() and row["field"] and row["value"], row
        if "xrefs.tsv" in row["source"]:
            assert (scheme_of[row["system"]], row["code"]) in xrefs, row


def test_who_icd10_codes_in_any_case():
    reading, fields = read(fx.condition("c1", ("http://hl7.org/fhir/sid/icd-10", "c92.4"), clinical="relapse"))
    assert fields["disease"] == "APL" and reading.statuses == ["relapsed"]
    reading, fields = read(fx.condition("c1", ("http://hl7.org/fhir/sid/icd-10", "C92.0")))
    assert fields["disease"] == "AML" and reading.statuses == ["relapsed", "refractory"]


def test_snomed_apl_fab_m3_reads_as_apl():
    """SNOMED CT 110004001 (acute promyelocytic leukemia, FAB M3), the code the CDS requirement names."""
    reading, fields = read(fx.condition("c1", (fx.SCT, "110004001"), clinical="relapse"))
    assert fields["disease"] == "APL" and reading.statuses == ["relapsed"]


@pytest.mark.parametrize("code", [fx.AML, (fx.ICD, "C92.02")])
def test_aml_coded_without_its_subtype_after_atra_and_arsenic_is_read_as_apl_and_said(code):
    """ATRA with arsenic trioxide is an initial APL treatment: a record coding only AML is read as APL
    (as a question naming that history is), and the reading says why; never a record refused."""
    reading, fields = read(fx.condition("c1", code, clinical="relapse"), fx.medication_statement("m1", "10753"),
                           fx.medication_statement("m2", "18330"))
    assert fields["disease"] == "APL" and fields["prior_therapy"] == "ATRA+ATO"
    assert "disease: APL (from the treatment history)" in reading.read
    assert any("codes AML without the APL subtype" in n and "ATRA with arsenic trioxide" in n for n in reading.notes)
