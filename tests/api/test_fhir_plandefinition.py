"""/fhir over real HTTP, on both store backends: the document as a PlanDefinition, checked with the
fhir.resources R4B models, each action citing its exact sentence."""
from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from . import fhir_records as fx
from .conftest import TEXT, assert_problem

FHIR_JSON = "application/fhir+json"


def fhir(api, path, status=200, **params) -> dict:
    r = api.get(path, params or None)
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith(FHIR_JSON)
    body = r.json()
    get_fhir_model_class(body["resourceType"]).model_validate(body)   # every resource we send is valid R4B
    return body


@pytest.fixture(scope="module")
def plan(api) -> dict:
    return fhir(api, "/fhir/PlanDefinition/acs2022")


def test_search_returns_the_plan_in_a_searchset(api, plan):
    bundle = fhir(api, "/fhir/PlanDefinition")
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert bundle["entry"][0]["resource"] == plan and bundle["entry"][0]["fullUrl"] == plan["url"]
    assert fhir(api, "/fhir/PlanDefinition", _id="acs2022")["total"] == 1
    assert fhir(api, "/fhir/PlanDefinition", _id="other")["total"] == 0


def test_unknown_plan_is_a_404_problem(api):
    assert_problem(api.get("/fhir/PlanDefinition/nope"), 404)


def test_one_action_per_recommendation_with_its_exact_sentence(api, plan):
    recommendations = api.json("/api/queries/recommendations")["rows"]
    assert [a["id"] for a in plan["action"]] == [r["recommendation"].rsplit("/", 1)[1] for r in recommendations]
    for action, rec in zip(plan["action"], recommendations):
        cite = action["documentation"][0]
        assert cite["type"] == "citation" and cite["citation"] == rec["quote"] and rec["quote"] in TEXT
        assert cite["label"] == rec["section"] and "2022-12-01" in cite["display"]
        assert cite["url"].startswith(api.base + "/entity/")
        assert action["description"] == rec["quote"]
        assert rec["strength"] in action["extension"][0]["valueString"]
        assert action["definitionCanonical"].startswith("#ad-")


def test_applicability_as_text_and_as_profile_expressions(plan):
    by_id = {a["id"]: a for a in plan["action"]}
    ivo = by_id["acs2022-idh1-ivosidenib"]
    expressions = [c["expression"] for c in ivo["condition"]]
    assert all(c["kind"] == "applicability" for c in ivo["condition"])
    assert {"language": "text/x-amlkg-profile", "expression": "mutations in (IDH1)",
            "description": "if the leukemia cells have an IDH1 mutation"} in expressions
    assert "status in (refractory, relapsed)" in [e.get("expression") for e in expressions]
    late = by_id["acs2022-late-relapse-chemo"]
    assert "remission_months >= 12" in [c["expression"].get("expression") for c in late["condition"]]
    # a condition no profile field states keeps its words only
    transplant = by_id["acs2022-late-relapse-transplant-younger"]
    plain = [c["expression"] for c in transplant["condition"] if c["expression"]["language"] == "text/plain"]
    assert plain and all("expression" not in e and e["description"] for e in plain)
    assert ivo["textEquivalent"].count(";") == len(ivo["condition"]) - 1


def test_activity_definitions_coded_from_the_reference_table(plan):
    contained = {r["id"]: r for r in plan["contained"]}
    referenced = {a["definitionCanonical"][1:] for a in plan["action"]}
    assert referenced == set(contained)
    ato = contained["ad-ArsenicTrioxide"]
    assert ato["kind"] == "MedicationRequest"
    codings = {(c["system"], c["code"]) for c in ato["productCodeableConcept"]["coding"]}
    assert ("http://www.nlm.nih.gov/research/umls/rxnorm", "18330") in codings
    assert ("http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "C1005") in codings
    gemtuzumab = contained["ad-GemtuzumabOzogamicin"]
    assert ("http://www.nlm.nih.gov/research/umls/rxnorm", "1294580") in {
        (c["system"], c["code"]) for c in gemtuzumab["productCodeableConcept"]["coding"]}
    assert contained["ad-StemCellTransplant"]["kind"] == "ServiceRequest"
    # no code is made up: an ActivityDefinition whose therapy the table does not code has only its text
    trial = contained["ad-ClinicalTrial"]
    assert trial["code"] == {"text": "clinical trial"}


def test_capability_statement(api):
    statement = fhir(api, "/fhir/metadata")
    assert statement["rest"][0]["resource"][0]["type"] == "PlanDefinition"


def apply(api, parameters, plan="acs2022"):
    return api.post("/fhir/PlanDefinition/%s/$apply" % plan, data=json.dumps(parameters),
                    headers={"Content-Type": "application/fhir+json"})


def parameters_for(record: str) -> dict:
    entries = [{"resource": r} for value in fx.RECORDS[record]["prefetch"].values() for r in
               ([e["resource"] for e in value["entry"]] if value["resourceType"] == "Bundle" else [value])]
    return {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueString": "Patient/p1"},
        {"name": "data", "resource": {"resourceType": "Bundle", "type": "collection", "entry": entries}}]}


def test_apply_gives_a_request_group_for_a_patient(api, plan):
    r = apply(api, parameters_for("snomed-relapse-flt3-present"))
    assert r.status_code == 200, r.text[:300]
    group = r.json()
    get_fhir_model_class("RequestGroup").model_validate(group)
    assert group["instantiatesCanonical"] == [plan["url"]] and group["subject"] == {"reference": "Patient/p1"}
    by_id = {a["id"]: a for a in group["action"]}
    # the record says nothing of fitness: the opening framing stays open, and nothing else
    assert by_id["acs2022-flt3-gilteritinib"]["textEquivalent"] == "open: as long as a person is healthy enough for them"
    assert by_id["acs2022-idh1-ivosidenib"]["textEquivalent"].startswith("open: if the leukemia cells have an IDH1")
    assert set(by_id) <= {a["id"] for a in plan["action"]}
    for action in group["action"]:
        assert action["documentation"][0]["citation"] in TEXT
    assert any("no result for IDH1, IDH2" in n["text"] for n in group["note"])


def test_apply_without_aml_has_no_action_and_bad_input_is_a_problem(api):
    group = apply(api, parameters_for("no-aml")).json()
    get_fhir_model_class("RequestGroup").model_validate(group)
    assert "action" not in group
    assert_problem(apply(api, {"resourceType": "Parameters"}), 400, "data")
    assert_problem(apply(api, {"resourceType": "Patient", "id": "p"}), 400, "body")
    r = api.post("/fhir/PlanDefinition/acs2022/$apply", data=b"{", headers={"Content-Type": "application/fhir+json"})
    assert_problem(r, 400, "body")
    assert_problem(apply(api, parameters_for("no-aml"), plan="other"), 404)
