"""Synthetic FHIR R4 records written for the CDS Hooks tests, one per shape the service must read.

Built with small helpers so each record says only what its test is about; every one is checked
against the fhir.resources R4B models by the tests before it is sent.
"""
from __future__ import annotations

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HPO = "http://human-phenotype-ontology.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
GENES = {"FLT3": "HGNC:3765", "IDH1": "HGNC:5382", "IDH2": "HGNC:5383"}
PATIENT = "p1"


def patient(birth="1980-05-01", pid=PATIENT):
    out = {"resourceType": "Patient", "id": pid}
    if birth:
        out["birthDate"] = birth
    return out


def condition(cid, *codings, clinical=None, verification=None, onset=None, abated=None, text=None):
    out = {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/%s" % PATIENT},
           "code": {"coding": [{"system": s, "code": c} for s, c in codings]}}
    if text:
        out["code"]["text"] = text
    if clinical:
        out["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    if verification:
        out["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
    if onset:
        out["onsetDateTime"] = onset
    if abated:
        out["abatementDateTime"] = abated
    return out


def variant(oid, gene, present=True, system="http://www.genenames.org/geneId"):
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "subject": {"reference": "Patient/%s" % PATIENT},
            "code": {"coding": [{"system": LOINC, "code": "69548-6", "display": "Genetic variant assessment"}]},
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4" if present else "LA9634-2",
                                                 "display": "Present" if present else "Absent"}]},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "48018-6", "display": "Gene studied [ID]"}]},
                           "valueCodeableConcept": {"coding": [{"system": system, "code": GENES[gene],
                                                                "display": gene}]}}]}


def medication_statement(mid, rxnorm, status="completed"):
    return {"resourceType": "MedicationStatement", "id": mid, "status": status,
            "subject": {"reference": "Patient/%s" % PATIENT},
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]}}


def searchset(*resources, outcome=False):
    entries = [{"fullUrl": "urn:uuid:%s" % r["id"], "resource": r, "search": {"mode": "match"}} for r in resources]
    if outcome:
        entries.append({"resource": {"resourceType": "OperationOutcome",
                                     "issue": [{"severity": "information", "code": "informational"}]},
                        "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources), "entry": entries}


def call(prefetch=None, **extra):
    body = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/example", "patientId": PATIENT}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


AML = (SCT, "91861009")
RELAPSED_AML_ICD = (ICD, "C92.02")
REFRACTORY_AML_NCIT = (NCIT, "C134319")
APL_NCIT = (NCIT, "C3182")
APL_RELAPSE_ICD = (ICD, "C92.42")

RECORDS = {
    # 1. SNOMED AML, clinicalStatus relapse, FLT3 Present; IDH1/IDH2 never tested
    "snomed-relapse-flt3-present": call({
        "patient": patient("1980-05-01"),
        "conditions": searchset(condition("c1", AML, clinical="relapse")),
        "observations": searchset(variant("v1", "FLT3", present=True))}),
    # 2. refractory from an NCIt code alone (no clinicalStatus), IDH1 Present coded in genenames.org
    "ncit-refractory-idh1": call({
        "patient": patient("1950-02-03"),
        "conditions": searchset(condition("c1", REFRACTORY_AML_NCIT)),
        "observations": searchset(variant("v1", "IDH1", system="http://www.genenames.org"))}),
    # 3. one CodeableConcept with codes in three systems (ICD-10-CM "in relapse", SNOMED, a local one);
    #    FLT3 Absent, nothing about IDH1/IDH2
    "three-systems-flt3-absent": call({
        "patient": patient("1990"),
        "conditions": searchset(condition("c1", RELAPSED_AML_ICD, AML, ("urn:oid:1.2.3.4", "AML-R"),
                                          text="AML in relapse")),
        "observations": searchset(variant("v1", "FLT3", present=False))}),
    # 4. APL relapsed after ATRA + arsenic trioxide (a statement, and a request through a Medication)
    "apl-after-atra-ato": call({
        "patient": patient("1975-07-07"),
        "conditions": searchset(condition("c1", APL_RELAPSE_ICD, APL_NCIT)),
        "medicationStatements": searchset(medication_statement("m1", "10753")),
        "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "MedicationRequest", "id": "r1", "status": "completed", "intent": "order",
                          "subject": {"reference": "Patient/%s" % PATIENT},
                          "medicationReference": {"reference": "Medication/ato"}}},
            {"resource": {"resourceType": "Medication", "id": "ato",
                          "code": {"coding": [{"system": RXNORM, "code": "18330", "display": "arsenic trioxide"}]}},
             "search": {"mode": "include"}}]}}),
    # 5. several conditions: AML in remission from 2023-01-15 (abated), relapse from 2023-05-20 (4
    #    months), hypertension, bone pain coded in HPO; birth year only
    "several-conditions-early-relapse": call({
        "patient": patient("1970"),
        "conditions": searchset(
            condition("old", AML, clinical="remission", onset="2022-06-01", abated="2023-01-15"),
            condition("new", AML, clinical="relapse", onset="2023-05-20"),
            condition("htn", (SCT, "38341003"), clinical="active"),
            condition("pain", (HPO, "HP:0002653"), clinical="active"))}),
    # 6. no AML at all (diabetes): no cards
    "no-aml": call({
        "patient": patient(),
        "conditions": searchset(condition("c1", (SCT, "44054006"), clinical="active"))}),
    # 7. an AML diagnosis the record later refuted: no cards
    "refuted-aml": call({
        "patient": patient(),
        "conditions": searchset(condition("c1", AML, clinical="active", verification="refuted"))}),
    # 8. AML active, neither relapsed nor refractory said: status stays open on the cards
    "status-open": call({
        "patient": patient(),
        "conditions": searchset(condition("c1", AML, clinical="active"))}),
    # 9. prefetch as single resources and a collection Bundle nesting a searchset with an outcome entry
    "nested-bundles": call({
        "patient": patient("1985-12-31"),
        "conditions": {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": searchset(condition("c1", AML, clinical="recurrence"), outcome=True)}]},
        "observations": variant("v1", "IDH2", present=True)}),
    # 10. a late relapse (18 months of remission) dated by a full-remission Observation; no birth date
    "late-relapse-dated-by-observation": call({
        "patient": patient(None),
        "conditions": searchset(condition("c1", RELAPSED_AML_ICD, onset="2024-07-01")),
        "observations": searchset({
            "resourceType": "Observation", "id": "s1", "status": "final",
            "subject": {"reference": "Patient/%s" % PATIENT}, "effectiveDateTime": "2023-01-01",
            "code": {"text": "disease status"},
            "valueCodeableConcept": {"coding": [{"system": SCT, "code": "550991000124107"}]}})}),
}
