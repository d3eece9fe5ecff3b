"""The fhir blueprint (under /fhir; any origin may call it) and its routes: the document as a
PlanDefinition (a searchset Bundle, or the one resource)."""
from __future__ import annotations

import orjson
from flask import Blueprint, Flask, Response, request

from ..disclaimer import DISCLAIMER
from ..api.respond import allow_cross_origin, cached_answer, dumps
from ..served_store import get_store
from ..errors import ProblemError
from ..services import get_finder
from ..ui.views import entity_id
from .answer import answer_record
from .record import RecordError, flatten, validate
from .plandefinition import PLAN_ID, plan_definition

FHIR_JSON = "application/fhir+json"

bp = allow_cross_origin(Blueprint("fhir", __name__, url_prefix="/fhir"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _plan() -> dict:
    store = get_store()
    snap = get_finder().snapshot(store)
    return plan_definition(store, snap.details, snap.version, request.host_url)


@bp.get("/PlanDefinition")
def plan_definitions():
    """Every PlanDefinition (one: the document) as a searchset Bundle; `_id` / `url` narrow it."""
    plan_id, url = request.args.get("_id"), request.args.get("url")

    def build() -> bytes:
        plan = _plan()
        keep = (plan_id in (None, PLAN_ID)) and (url in (None, plan["url"]))
        entries = [{"fullUrl": plan["url"], "resource": plan, "search": {"mode": "match"}}] if keep else []
        return dumps({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})

    return cached_answer(("fhir-plans", request.host_url, plan_id, url), build, mimetype=FHIR_JSON)


@bp.get("/PlanDefinition/<plan_id>")
def plan_definition_by_id(plan_id: str):
    """One PlanDefinition; an unknown id is a 404 OperationOutcome."""
    _known(plan_id)
    return cached_answer(("fhir-plan", request.host_url), lambda: dumps(_plan()), mimetype=FHIR_JSON)


@bp.get("/metadata")
def capability_statement():
    """The FHIR CapabilityStatement of /fhir: PlanDefinition read and search (by _id or url)."""
    statement = {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-12-06", "kind": "instance",
        "publisher": "amlkg", "fhirVersion": "4.0.1", "format": ["json"],
        "description": "The American Cancer Society page on relapsed and refractory AML (revised 2022-12-01) as a "
                       "PlanDefinition; CDS Hooks at /cds-services. Not medical advice.",
        "implementation": {"description": "amlkg", "url": request.host_url + "fhir"},
        "rest": [{"mode": "server", "resource": [{
            "type": "PlanDefinition", "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": "_id", "type": "token"}, {"name": "url", "type": "uri"}]}]}],
    }
    return Response(dumps(statement), mimetype=FHIR_JSON)


def _known(plan_id: str) -> None:
    if plan_id != PLAN_ID:
        raise ProblemError(404, "Unknown PlanDefinition", "no PlanDefinition %r (the one here is %r)"
                           % (plan_id[:100], PLAN_ID), kind="unknown-plan-definition")


@bp.post("/PlanDefinition/<plan_id>/$apply")
def apply(plan_id: str):
    """$apply for one patient: a Parameters resource with `subject` and `data` (a Bundle of the
    patient's record, as CPG-on-FHIR's $apply takes it) -> a RequestGroup, one action per option."""
    _known(plan_id)
    try:
        parameters = validate(orjson.loads(request.get_data(cache=False) or b"null"))
    except orjson.JSONDecodeError as e:
        raise _invalid({"body": "not valid JSON (%s)" % e}) from None
    except RecordError as e:
        raise _invalid(e.errors) from None
    if parameters.get("resourceType") != "Parameters":
        raise _invalid({"body": "send a Parameters resource, not %s" % parameters.get("resourceType")})
    given = {p.get("name"): p for p in parameters.get("parameter") or ()}
    subject = (given.get("subject") or {}).get("valueString")
    data = (given.get("data") or {}).get("resource")
    if not isinstance(data, dict):
        raise _invalid({"data": "required: the patient's record as a resource (a Bundle)"})
    patient_id = subject.split("Patient/", 1)[1] if isinstance(subject, str) and "Patient/" in subject else None
    found = answer_record(flatten(data), patient_id)
    plan_url = "%sfhir/PlanDefinition/%s" % (request.host_url, PLAN_ID)
    group = {"resourceType": "RequestGroup", "status": "draft", "intent": "proposal",
             "instantiatesCanonical": [plan_url],
             "note": [{"text": "Read from the record: %s" % ("; ".join(found.reading.read) or "nothing")},
                      {"text": "The record leaves open: %s" % ("; ".join(found.reading.notes) or "nothing")},
                      {"text": DISCLAIMER}]}
    if subject:
        group["subject"] = {"reference": subject}
    actions = []
    for option in found.options:
        source = option["source"]
        actions.append({
            "id": entity_id(option["recommendation"]) or option["recommendation"],
            "title": "%s (%s)" % (option["therapy"]["label"], option["strength"]),
            "description": source["quote"],
            "textEquivalent": "open: %s" % "; ".join(option["conditions"]) if option["conditions"] else "no open condition",
            "documentation": [{"type": "citation", "label": source["section"], "citation": source["quote"],
                               "display": "American Cancer Society: %s (revised %s)" % (source["title"], source["revised"]),
                               "url": "%sentity/%s" % (request.host_url, entity_id(source["document"]) or PLAN_ID)}]})
    if actions:
        group["action"] = actions
    return Response(dumps(group), mimetype=FHIR_JSON)


def _invalid(errors: dict) -> ProblemError:
    return ProblemError(400, "Invalid $apply request", "; ".join("%s: %s" % kv for kv in errors.items()),
                        kind="invalid-apply", errors=errors)
