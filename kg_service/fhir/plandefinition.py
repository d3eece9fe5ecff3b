"""The document as a FHIR R4 PlanDefinition, built from the graph (`queries/recommendations.rq` and
`kg_service/fhir/queries/plan-conditions.rq`).

One action per recommendation: its title and strength, the exact sentence as a `citation`
relatedArtifact (with the document), its applicability as `condition`s, and a
`definitionCanonical` to a contained ActivityDefinition for the therapy, coded from the reference
table (`loaders/data/xrefs.tsv`, RxNorm and NCIt).

Applicability language `text/x-amlkg-profile` (documented in the README): a test on one field of
the options finder's profile, `FIELD in (CODE, ...)` or `FIELD >= N`, `FIELD > N`, `FIELD <= N`,
`FIELD < N` (joined with ` and `); the condition's own words are its `description`. A condition no
profile field states (fitness, a donor, what was tried before) has only its words, as `text/plain`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..store import Store
from ..ui.views import entity_id
from ..xrefs import ids_of_same_entity, xref_keys

QUERY_DIR = Path(__file__).resolve().parent / "queries"
PLAN_ID = "acs2022"
LANGUAGE = "text/x-amlkg-profile"
#: FHIR system URIs of the reference table's schemes (FHIR R4 terminologies pages; see fhir-codes.tsv)
SYSTEMS = {"RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
           "NCIT": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"}
DRUG_SCHEMES = ("RxNorm", "DrugBank", "ChEBI")
OPERATORS = (("minInclusive", ">="), ("minExclusive", ">"), ("maxInclusive", "<="), ("maxExclusive", "<"))


@lru_cache(maxsize=None)
def fhir_query(name: str) -> str:
    """The text of one of this area's queries (kg_service/fhir/queries/<name>.rq)."""
    return (QUERY_DIR / ("%s.rq" % name)).read_text(encoding="utf-8")


def _number(value) -> int | float:
    number = float(str(value))
    return int(number) if number.is_integer() else number


def applicability(row: dict) -> dict:
    """One condition row as a PlanDefinition.action.condition.

    >>> applicability({"text": "if remission lasted at least a year", "field": "remission_months", "minInclusive": 12})["expression"]["expression"]
    'remission_months >= 12'
    """
    text = str(row["text"])
    field = str(row["field"]) if row.get("field") else None
    tests = []
    if field and row.get("codes"):
        tests.append("%s in (%s)" % (field, ", ".join(sorted(str(row["codes"]).split(" | ")))))
    for key, op in OPERATORS:
        if field and row.get(key) is not None:
            tests.append("%s %s %s" % (field, op, _number(row[key])))
    if tests:
        expression = {"language": LANGUAGE, "expression": " and ".join(tests), "description": text}
    else:
        expression = {"language": "text/plain", "description": text}
    return {"kind": "applicability", "expression": expression}


def _activity(therapy: dict) -> dict:
    local = entity_id(therapy["id"]) or therapy["label"]
    keys = xref_keys(therapy["xref_iris"])
    is_drug = any(scheme in DRUG_SCHEMES for scheme in keys)
    if is_drug:  # the drug's RxNorm ingredient code, from the table row of the same entity
        keys.update({"RxNorm": code for code in ids_of_same_entity(therapy["xref_iris"], "RxNorm")[:1]})
    codings = [{"system": SYSTEMS[scheme], "code": code, "display": therapy["label"]}
               for scheme, code in sorted(keys.items()) if scheme in SYSTEMS]
    concept = {"text": therapy["label"]}
    if codings:
        concept["coding"] = codings
    activity = {"resourceType": "ActivityDefinition", "id": "ad-%s" % local, "status": "active",
                "name": "".join(ch for ch in local if ch.isalnum()), "title": therapy["label"],
                "kind": "MedicationRequest" if is_drug else "ServiceRequest"}
    activity["productCodeableConcept" if is_drug else "code"] = concept
    return activity


def plan_definition(store: Store, details: dict, version: str, base_url: str) -> dict:
    """The PlanDefinition of the document (`details`: the finder's recommendation details)."""
    conditions: dict[str, list] = {}
    for row in store.select(fhir_query("plan-conditions")):
        conditions.setdefault(str(row["recommendation"]), []).append(row)
    recommendations = sorted(details.items(), key=lambda kv: kv[1]["order"])
    first = recommendations[0][1]["source"]
    document_url = "%sentity/%s" % (base_url, entity_id(first["document"]) or PLAN_ID)
    document = "American Cancer Society: %s (revised %s)" % (first["title"], first["revised"])
    activities: dict[str, dict] = {}
    actions = []
    for rec, d in recommendations:
        therapy = d["therapy"]
        activity = activities.setdefault(therapy["id"], _activity(therapy))
        rows = sorted(conditions.get(rec, []), key=lambda r: int(r["order"]))
        action = {
            "id": entity_id(rec) or rec,
            "title": "%s (%s)" % (therapy["label"], d["strength"]),
            "description": d["source"]["quote"],
            "textEquivalent": "; ".join(str(r["text"]) for r in rows) or "no condition",
            "extension": [{"url": "%sfhir/StructureDefinition/recommendation-strength" % base_url,
                           "valueString": "%s (the document: %s)" % (d["strength"], d["strength_wording"])}],
            "documentation": [{"type": "citation", "label": d["source"]["section"], "display": document,
                               "citation": d["source"]["quote"], "url": document_url}],
            "definitionCanonical": "#%s" % activity["id"],
        }
        if rows:
            action["condition"] = [applicability(r) for r in rows]
        actions.append(action)
    return {
        "resourceType": "PlanDefinition",
        "id": PLAN_ID,
        "url": "%sfhir/PlanDefinition/%s" % (base_url, PLAN_ID),
        "version": version,
        "name": "ACSRelapsedRefractoryAML",
        "title": first["title"],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                             "code": "clinical-protocol"}]},
        "status": "active",
        "date": first["revised"],
        "publisher": "amlkg",
        "description": ("The treatment options of the American Cancer Society page '%s' (revised %s), one action per "
                        "recommendation, each citing its sentence. Not medical advice: it restates one "
                        "patient-education document." % (first["title"], first["revised"])),
        "relatedArtifact": [{"type": "derived-from", "display": document, "url": document_url}],
        "contained": list(activities.values()),
        "action": actions,
    }
