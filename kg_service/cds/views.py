"""The CDS Hooks blueprint (any origin may call it) and its routes: discovery and the patient-view
service (see the package docstring)."""
from __future__ import annotations

import orjson
from flask import Blueprint, Flask, Response, request

from ..api.respond import allow_cross_origin
from ..errors import ProblemError
from ..fhir.answer import answer_record
from ..fhir.record import RecordError, flatten, validate
from .cards import card
from .fetch import Fetcher, check_server, fill

bp = allow_cross_origin(Blueprint("cds", __name__))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


SERVICE_ID = "amlkg-relapsed-refractory-aml"
HOOK = "patient-view"
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}
#: without these the service cannot tell whether the record has AML at all
ESSENTIAL = ("conditions",)
SERVICE = {
    "hook": HOOK,
    "id": SERVICE_ID,
    "title": "Relapsed or refractory AML: the American Cancer Society's options, with their sentences",
    "description": ("For a patient with acute myeloid leukemia, the treatment options the American Cancer Society "
                    "page 'If Acute Myeloid Leukemia (AML) Doesn't Respond or Comes Back After Treatment' (revised "
                    "2022-12-01) names for what the record shows (relapsed or refractory, remission length, age, "
                    "FLT3/IDH1/IDH2 results, prior APL therapy), each card quoting its sentence. Not medical advice."),
    "prefetch": PREFETCH,
    "usageRequirements": "Reads Patient, Condition, Observation, MedicationStatement, MedicationRequest, "
                         "MedicationAdministration and Procedure (FHIR R4) for the patient in context.",
}


def _bad(detail: str, errors: dict | None = None) -> ProblemError:
    return ProblemError(400, "Invalid CDS Hooks request", detail, kind="invalid-cds-request", errors=errors or {})


def _json(data) -> Response:
    return Response(orjson.dumps(data), mimetype="application/json")


@bp.get("/cds-services")
def discovery():
    """CDS Hooks discovery: the one patient-view service and its prefetch templates."""
    return _json({"services": [SERVICE]})


@bp.post("/cds-services/<service_id>")
def call(service_id: str):
    """A patient-view call: the record (prefetch, or read from fhirServer) -> {"cards": [...]}."""
    if service_id != SERVICE_ID:
        raise ProblemError(404, "Unknown CDS service", "no service %r; see /cds-services" % service_id,
                           kind="unknown-cds-service")
    body = _body()
    found = answer_record(_resources(body), (body.get("context") or {}).get("patientId"))
    reading = found.reading
    return _json({"cards": [card(o, request.host_url, reading.read, reading.notes, found.graph_version)
                            for o in found.options]})


def _body() -> dict:
    data = request.get_data(cache=False)
    if not data.strip():
        raise _bad("empty body: send a CDS Hooks request (JSON)", {"body": "empty"})
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise _bad("the body is not valid JSON (%s)" % e, {"body": "not valid JSON"}) from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object", {"body": "must be a JSON object"})
    errors = {}
    if "hook" not in body:
        errors["hook"] = "required: %s" % HOOK
    elif body["hook"] != HOOK:
        errors["hook"] = "this service answers %s, not %r" % (HOOK, body["hook"])
    for name in ("context", "prefetch"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            errors[name] = "must be a JSON object"
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    if "patientId" in context and not isinstance(context["patientId"], str):
        errors["context.patientId"] = "must be a string"
    if errors:
        raise _bad("; ".join("%s: %s" % kv for kv in errors.items()), errors)
    return body


def _resources(body: dict) -> list[dict]:
    """Every resource of the prefetch, validated; missing prefetch read from fhirServer, else 412."""
    prefetch = body.get("prefetch") or {}
    context = body.get("context") or {}
    missing = [key for key in PREFETCH if prefetch.get(key) is None]
    fetched = {}
    if missing and body.get("fhirServer"):
        server = check_server(body["fhirServer"])
        if not isinstance(context.get("patientId"), str) or not context["patientId"]:
            raise _bad("context.patientId is needed to read the record from fhirServer",
                       {"context.patientId": "required to fetch the record"})
        fetcher = Fetcher(server, body.get("fhirAuthorization"))
        fetched = {key: fetcher.get(fill(PREFETCH[key], context)) for key in missing}
    elif any(key in missing for key in ESSENTIAL):
        raise ProblemError(412, "Prefetch missing",
                           "the request carries no %s prefetch and no fhirServer to read it from"
                           % " or ".join(k for k in ESSENTIAL if k in missing),
                           kind="prefetch-missing", missing=missing)
    resources, errors = [], {}
    for key, value in list(prefetch.items()) + list(fetched.items()):
        if value is None:
            continue
        try:
            resources.extend(flatten(validate(value)))
        except RecordError as e:
            errors.update({"prefetch.%s %s" % (key, k): v for k, v in e.errors.items()})
    if errors:
        raise ProblemError(400, "Invalid FHIR resource", "; ".join("%s: %s" % kv for kv in errors.items()),
                           kind="invalid-fhir", errors=errors)
    return resources
