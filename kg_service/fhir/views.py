"""The /fhir routes: the document as a PlanDefinition (a searchset Bundle, or the one resource)."""
from __future__ import annotations

from flask import Response, request

from ..api.respond import cached_answer, dumps
from ..dataset import get_store
from ..services import get_finder
from . import bp
from .plandefinition import PLAN_ID, plan_definition

FHIR_JSON = "application/fhir+json"


def _plan() -> dict:
    store = get_store()
    facts = get_finder().graph_facts(store)
    return plan_definition(store, facts["details"], facts["version"], request.host_url)


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
    if plan_id != PLAN_ID:
        outcome = {"resourceType": "OperationOutcome",
                   "issue": [{"severity": "error", "code": "not-found",
                              "diagnostics": "no PlanDefinition %r (the one here is %r)" % (plan_id[:100], PLAN_ID)}]}
        return Response(dumps(outcome), status=404, mimetype=FHIR_JSON)
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
