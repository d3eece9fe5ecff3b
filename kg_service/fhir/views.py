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
