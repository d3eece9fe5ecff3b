"""`/openapi.json` (OpenAPI 3.1, generated from the routes and the named queries' headers) and
`/api/docs` (plain HTML rendered from that document; no scripts, no CDN)."""
from __future__ import annotations

import re

import hashlib
import html
from urllib.parse import urlencode

import orjson
from flask import Blueprint

from ..disclaimer import DISCLAIMER
from ..options import BOOLEAN_FIELDS, CHOICES, GENE_SYMBOL, MUTATION_NAME, MUTATION_WORDS, NUMBER_NOTATION, PROFILE_FIELDS
from ..services import get_snapshot
from .respond import validated

spec_bp = Blueprint("api_spec", __name__)
API_VERSION = "0.1.0"
PROBLEM = "application/problem+json"

BOUND_NOTE = ("a number, a bound (`<12`, `<=6`, `>12`, `>=24`), a range (`6-12`) or about a number (`~6`, read "
              "as N plus or minus a tenth of N, at least 1: `~6` = 5-7). A bound that decides a condition settles "
              "it; one that does not leaves the condition open. The answer's `profile` echoes the same notation")
PROFILE_DESCRIPTIONS = {
    "disease": "subtype: AML (default; most types of AML, not APL) or APL. Without it, a `prior_therapy` (an "
               "initial APL treatment) means APL, said in `warnings`; `AML` with a `prior_therapy` is a 400 naming both",
    "status": "refractory (did not go away with induction) or relapsed (came back after remission)",
    "mutations": "the complete list of mutations found: gene symbols (FLT3, IDH1, IDH2; case-insensitive) or "
                 "variant names and protein changes (FLT3-ITD, FLT3-TKD, FLT3 D835Y, IDH1 R132H, IDH2 p.R172K), "
                 "mapped to their gene's mutation class through the ontology; an unknown variant of a known gene "
                 "keeps the gene's options with a note in `warnings`; a symbol the graph does not know is accepted "
                 "and named in `warnings`. `none` (or an empty list) = tested, none found; `unknown` or absent = "
                 "not known",
    "absent_mutations": "genes tested negative (wild-type): conditions on them are settled as not met, other "
                        "genes stay unknown. With it, `mutations` lists the genes found and is no longer the "
                        "complete list: a gene in neither list stays open. A gene both here and in `mutations` is a 400",
    "remission_months": "how long the remission lasted, in months: " + BOUND_NOTE,
    "age": "age in years: a whole number, a bound (`>60`, `<60`, `>=70`), a range (`70-79`) or about a number "
           "(`~60` = 54-66), as for `remission_months`",
    "prior_therapy": "initial APL treatment",
    "site": "where it came back: marrow (default) or cns",
    "symptoms": "supportive-care needs",
    "fit": "healthy enough for intensive treatment (the document: \"as long as a person is healthy enough for "
           "them\", \"if the person can tolerate them\"); false drops the options that need it, absent leaves "
           "that condition open",
    "donor": "a suitable stem cell donor has been found",
    "prior_transplant": "has already had a stem cell transplant; the document's transplant statements do not "
                        "speak of a second one, so with true they are kept but marked outside what they cover",
    "keeps_coming_back": "the leukemia keeps coming back or doesn't go away (the document's words)",
}
NAMED_QUERY_PARAM_SCHEMAS = {
    "iri": {"type": "string", "pattern": r"^(|https?://[^\s<>\"{}|\\^`]+|(amlkg:)?[A-Za-z][A-Za-z0-9_.-]*)$",
            "description": "an entity id: local name (Ivosidenib), amlkg:Ivosidenib, or a full IRI"},
    "code": {"type": "string"},
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


def _profile_field_schema(name: str) -> dict:
    if name == "mutations":  # the words none (tested, none found) and unknown (= absent), or mutation names
        return {"type": "array", "items": {"anyOf": [{"type": "string", "enum": list(MUTATION_WORDS)},
                                                     {"type": "string", "pattern": MUTATION_NAME.pattern}]}}
    if name == "absent_mutations":
        return {"type": "array", "items": {"type": "string", "pattern": GENE_SYMBOL.pattern}}
    if name == "symptoms":
        return {"type": "array", "items": {"type": "string", "enum": list(CHOICES["symptoms"])}}
    # the notation's pattern without Python's named groups (JSON Schema patterns are ECMA-262)
    bound = {"type": "string", "pattern": re.sub(r"\(\?P<\w+>", "(", NUMBER_NOTATION.pattern)}
    if name == "remission_months":
        return {"oneOf": [{"type": "number", "minimum": 0, "maximum": 1200}, bound]}
    if name == "age":
        return {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 130}, bound]}
    if name in BOOLEAN_FIELDS:
        return {"type": "boolean"}
    return {"type": "string", "enum": list(CHOICES[name])}


def _profile_query_params() -> list[dict]:
    out = []
    for name in PROFILE_FIELDS:
        p = {"name": name, "in": "query", "required": name == "status", "description": PROFILE_DESCRIPTIONS[name],
             "schema": _profile_field_schema(name)}
        if name in ("mutations", "symptoms"):
            p.update(style="form", explode=False)
        out.append(p)
    return out


def _ref(name: str) -> dict:
    return {"$ref": "#/components/schemas/%s" % name}


def _json(schema: dict, description: str = "OK", *, etag: bool = True) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if etag:
        out["headers"] = {"ETag": {"$ref": "#/components/headers/ETag"}}
    return out


def _problems(*codes: str) -> dict:
    names = {"400": "BadRequest", "404": "NotFound", "406": "NotAcceptable", "413": "TooLarge",
             "415": "UnsupportedMediaType", "422": "Unprocessable", "503": "Unavailable", "504": "Timeout"}
    return {c: {"$ref": "#/components/responses/%s" % names[c]} for c in codes}


NOT_MODIFIED = {"304": {"description": "Not modified: the client's copy (If-None-Match) is current",
                        "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}},
                "414": {"description": "URI too long for the HTTP server in front (POST /api/options takes a "
                                       "JSON body)"}}


def build_spec(queries, codes: list[str] | None = None) -> dict:
    """The OpenAPI 3.1 document of every /api route; one operation per named query.

    `codes` are the graph's profile codes, the values a `code` parameter takes."""
    paths: dict = {}
    paths["/api/options"] = {
        "get": {"operationId": "findOptions", "tags": ["options"], "summary": "Options for a patient profile",
                "description": ORDER_RULE,
                "parameters": _profile_query_params(),
                "responses": {"200": _json(_ref("OptionsAnswer")), **NOT_MODIFIED, **_problems("400", "503", "504")}},
        "post": {"operationId": "findOptionsPost", "tags": ["options"], "summary": "Options for a patient profile (JSON body)",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Profile"),
                                 "example": {"status": "relapsed", "mutations": ["IDH1"]}}}},
                 "responses": {"200": _json(_ref("OptionsAnswer")),
                               **_problems("400", "413", "415", "503", "504")}},
    }
    paths["/api/ask"] = {"get": {
        "operationId": "ask", "tags": ["options"], "summary": "Answer a plain-language question",
        "description": "Reads the question into a profile using the graph's own labels, synonyms, brand names and "
                       "profile codes; returns what it understood, the words it could not use, treatments it saw "
                       "named (`mentions`, marked on the options), and the options. 422 when it cannot tell the "
                       "status.",
        "parameters": [{"name": "q", "in": "query", "required": True, "description": "the question",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 500},
                        "examples": {"idh1": {"value": "options for IDH1+ relapse"},
                                     "flt3": {"value": "what if AML comes back after 8 months in a 50 year old with FLT3"},
                                     "apl": {"value": "APL relapse after ATRA plus chemo"}}}],
        "responses": {"200": _json(_ref("AskAnswer")), **NOT_MODIFIED, **_problems("400", "422", "503", "504")}}}
    paths["/api/queries"] = {"get": {
        "operationId": "listQueries", "tags": ["named queries"], "summary": "The named queries and their parameters",
        "responses": {"200": _json(_ref("QueryList")), **NOT_MODIFIED, **_problems("503")}}}
    for q in queries.values():
        paths["/api/queries/%s" % q.name] = {"get": _query_operation(q, codes)}
    paths["/api/entities/{id}"] = {"get": {
        "operationId": "getEntity", "tags": ["entities"], "summary": "One entity",
        "description": "Labels, types, superclasses, synonyms and brand names, cross-references, linked entities "
                       "(with labels and direction), the recommendations that mention it and FDA approvals.",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "description": "local name (Ivosidenib), amlkg:Ivosidenib, or a full IRI",
                        "schema": {"type": "string", "minLength": 1}, "example": "Ivosidenib"}],
        "responses": {"200": _json(_ref("Entity")), **NOT_MODIFIED, **_problems("400", "404", "503", "504")}}}
    paths["/api/search"] = {"get": {
        "operationId": "search", "tags": ["entities"], "summary": "Find entities by label, brand name or synonym",
        "description": "Case- and accent-insensitive; ranked exact > prefix > word prefix > substring, then label > "
                       "brand > synonym > code.",
        "parameters": [{"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                                   "maxLength": 200},
                        "example": "tibsovo"},
                       {"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}],
        "responses": {"200": _json(_ref("SearchAnswer")), **NOT_MODIFIED, **_problems("400", "503", "504")}}}
    paths["/api/docs"] = {"get": {
        "operationId": "docs", "tags": ["documentation"], "summary": "This description as an HTML page",
        "responses": {"200": {"description": "HTML rendered from /openapi.json",
                              "content": {"text/html": {"schema": {"type": "string"}}}}, **NOT_MODIFIED}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "amlkg JSON API", "version": API_VERSION,
                 "summary": "Relapsed and refractory AML treatment options, each traced to its source sentence",
                 "description": "Options finder, plain-language questions, named queries, entities and search over "
                                "the amlkg knowledge graph. " + DISCLAIMER,
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "tags": [{"name": "options", "description": "the options finder"},
                 {"name": "named queries", "description": "one operation per `queries/*.rq` file"},
                 {"name": "entities", "description": "entities and search"},
                 {"name": "documentation", "description": "this description"}],
        # the API needs no credentials (security: []); the server is the one serving this document
        "servers": [{"url": "/", "description": "this amlkg service"}],
        "security": [],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "responses": RESPONSES,
                       "headers": {"ETag": {"description": "graph version + request", "schema": {"type": "string"}}}},
    }


def _query_operation(q, codes: list[str] | None = None) -> dict:
    params = []
    for p in q.params.values():
        if p.type == "profile":
            params.extend(_profile_query_params())
            continue
        schema = dict(NAMED_QUERY_PARAM_SCHEMAS[p.type])
        description = p.description or schema.pop("description", "")
        schema.pop("description", None)
        if p.values is not None:
            schema["enum"] = list(p.values)
        elif p.type == "code" and codes:
            schema["enum"] = list(codes)
        params.append({"name": p.name, "in": "query", "required": p.required,
                       "description": "%s (%s)" % (description, p.type) if description else p.type,
                       "schema": schema})
    examples = {}
    for name, values in q.examples.items():
        examples[name] = {"summary": name, "value": {"rows": []},
                          "description": "GET /api/queries/%s?%s" % (q.name, _query_string(values))}
    ok = {"description": "rows, one object per solution (plain JSON values); CSV with Accept: text/csv",
          "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
          "content": {"application/json": {"schema": _ref("QueryResult")},
                      "text/csv": {"schema": {"type": "string"}}}}
    op = {"operationId": "query_" + q.name.replace("-", "_"), "tags": ["named queries"] + list(q.tags),
          "summary": q.summary, "description": (q.description + "\n\n" if q.description else "")
          + "Runs `queries/%s`; parameters are bound as typed RDF terms." % q.path.name,
          "parameters": params, "responses": {"200": ok, **NOT_MODIFIED, **_problems("400", "406", "503", "504")},
          "x-amlkg-query-file": "queries/%s" % q.path.name}
    if examples:
        op["x-amlkg-examples"] = {k: v["description"] for k, v in examples.items()}
    return op


def _query_string(values: dict) -> str:
    return urlencode({k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in values.items()})


ORDER_RULE = (
    "The document's options whose context the profile meets or leaves open, each with its source quote. What "
    "the document says is not likely helpful appears with strength `not likely helpful` (never dropped or "
    "promoted). Order: `not likely helpful` last; before it, options whose every condition on the person's "
    "situation (disease, status, mutations, remission, age, prior therapy, site, symptoms) holds (`match: "
    "holds`), then those with such a condition open (`open`), then those outside a usual bound such as "
    "\"generally younger than 60\" (`outside`, kept with the bound and the document's word in `outside`); within "
    "each, strongest first, then more matched profile facts, then document order. A step the document orders "
    "after another (stronger opioids if aspirin and ibuprofen don't help) is listed after it. Conditions on "
    "fitness, donor, earlier transplant and what was tried before are listed but do not reorder.")
NULLABLE_STRING = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": {"type": "string"}}
SCHEMAS = {
    "Problem": {"type": "object", "required": ["type", "title", "status"],
                "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                               "detail": {"type": "string"},
                               "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                               "hint": {"type": "string"}}},
    "Profile": {"type": "object", "required": ["status"], "additionalProperties": False,
                "properties": {name: {**_profile_field_schema(name), "description": PROFILE_DESCRIPTIONS[name]}
                               for name in PROFILE_FIELDS}},
    "Therapy": {"type": "object", "required": ["id", "label"],
                "properties": {"id": {"type": "string"}, "label": {"type": "string"}, "brand": NULLABLE_STRING,
                               "brands": STRINGS, "kind": NULLABLE_STRING,
                               "xrefs": {"type": "object", "additionalProperties": {"type": "string"}},
                               "xref_iris": STRINGS}},
    "Source": {"type": "object", "required": ["quote", "section", "document", "revised"],
               "properties": {"quote": {"type": "string", "description": "the exact sentence of the document"},
                              "section": {"type": "string"}, "document": {"type": "string"},
                              "title": {"type": "string"}, "revised": {"type": "string"}}},
    "Option": {"type": "object", "required": ["therapy", "recommendation", "strength", "conditions", "why", "source"],
               "properties": {"therapy": _ref("Therapy"), "recommendation": {"type": "string"},
                              "strength": {"type": "string"}, "strength_wording": {"type": "string"},
                              "caveat": NULLABLE_STRING, "combined_with": STRINGS, "conditions": STRINGS,
                              "why": STRINGS, "note": NULLABLE_STRING, "source": _ref("Source"),
                              "match": {"type": "string", "enum": ["holds", "open", "outside"],
                                        "description": "how the person's situation meets the conditions (see the "
                                                       "order rule of /api/options)"},
                              "outside": {**STRINGS, "description": "usual bounds the profile falls outside, with "
                                                                     "the document's word; the option is kept"},
                              "fda_approvals": {"type": "array", "items": {"type": "object"}},
                              "mentioned": {"type": "boolean"}}},
    "OptionsAnswer": {"type": "object", "required": ["profile", "options", "warnings", "disclaimer"],
                      "properties": {"profile": {"type": "object", "description": "the profile as understood, "
                                                 "numbers in the notation they were given"},
                                     "defaults": {**STRINGS, "description": "fields the profile did not state, "
                                                                            "filled by the contract's defaults"},
                                     "options": {"type": "array", "items": _ref("Option")},
                                     "warnings": STRINGS, "disclaimer": {"type": "string"},
                                     "graph_version": {"type": "string"}}},
    "AskAnswer": {"type": "object",
                  "required": ["question", "profile", "unrecognized", "options", "warnings", "disclaimer"],
                  "properties": {"question": {"type": "string"}, "profile": {"type": "object"}, "defaults": STRINGS,
                                 "profiles": {"type": "array", "items": {"type": "object"},
                                              "description": "each profile answered: one per status when the "
                                                             "question names both as alternatives (\"r/r AML\"), "
                                                             "`profile.status` then lists both"},
                                 "understood": {"type": "array", "items": {"type": "object"}},
                                 "mentions": {"type": "array", "items": {"type": "object"}},
                                 "unrecognized": STRINGS, "options": {"type": "array", "items": _ref("Option")},
                                 "warnings": STRINGS, "disclaimer": {"type": "string"},
                                 "graph_version": NULLABLE_STRING}},
    "QueryList": {"type": "object", "required": ["queries"],
                  "properties": {"queries": {"type": "array", "items": {
                      "type": "object", "required": ["name", "summary", "parameters"],
                      "properties": {"name": {"type": "string"}, "summary": {"type": "string"},
                                     "description": {"type": "string"}, "url": {"type": "string"},
                                     "parameters": {"type": "array", "items": {"type": "object"}},
                                     "examples": {"type": "array", "items": {"type": "object"}}}}}}},
    "QueryResult": {"type": "object", "required": ["query", "params", "columns", "rows"],
                    "properties": {"query": {"type": "string"}, "params": {"type": "object"}, "columns": STRINGS,
                                   "rows": {"type": "array", "items": {"type": "object", "additionalProperties": {
                                       "type": ["string", "number", "boolean", "null"]}}}}},
    "Entity": {"type": "object", "required": ["id", "labels", "types", "links"],
               "properties": {"id": {"type": "string"}, "curie": {"type": "string"}, "label": NULLABLE_STRING,
                              "labels": STRINGS, "types": {"type": "array", "items": {"type": "object"}},
                              "superclasses": {"type": "array", "items": {"type": "object"}},
                              "synonyms": STRINGS, "brand_names": STRINGS, "codes": STRINGS,
                              "description": NULLABLE_STRING,
                              "xrefs": {"type": "object", "additionalProperties": {"type": "string"}},
                              "xref_iris": STRINGS, "properties": {"type": "object"},
                              "links": {"type": "array", "items": {"type": "object"}},
                              "recommendations": {"type": "array", "items": {"type": "object"}},
                              "fda_approvals": {"type": "array", "items": {"type": "object"}}}},
    "SearchAnswer": {"type": "object", "required": ["query", "results"],
                     "properties": {"query": {"type": "string"}, "limit": {"type": "integer"},
                                    "count": {"type": "integer"},
                                    "results": {"type": "array", "items": {
                                        "type": "object", "required": ["id", "label", "matched", "match"],
                                        "properties": {"id": {"type": "string"}, "label": {"type": "string"},
                                                       "matched": {"type": "string"},
                                                       "match": {"enum": ["exact", "prefix", "word", "substring"]},
                                                       "name_kind": {"type": "string"}, "kind": NULLABLE_STRING,
                                                       "code": NULLABLE_STRING}}}}},
}
_PROBLEM_CONTENT = {PROBLEM: {"schema": _ref("Problem")}}
RESPONSES = {
    "BadRequest": {"description": "A parameter or field is malformed; `errors` names each", "content": _PROBLEM_CONTENT},
    "NotFound": {"description": "No such entity", "content": _PROBLEM_CONTENT},
    "NotAcceptable": {"description": "Only application/json and text/csv are offered", "content": _PROBLEM_CONTENT},
    "TooLarge": {"description": "The body is too large", "content": _PROBLEM_CONTENT},
    "UnsupportedMediaType": {"description": "The body is not application/json", "content": _PROBLEM_CONTENT},
    "Unprocessable": {"description": "The question cannot be read into a profile; `hint` says what to add",
                      "content": _PROBLEM_CONTENT},
    "Unavailable": {"description": "The store cannot be reached now",
                    "headers": {"Retry-After": {"schema": {"type": "string"}}}, "content": _PROBLEM_CONTENT},
    "Timeout": {"description": "The query ran past its time limit", "content": _PROBLEM_CONTENT},
}


def spec_document(queries, vocab) -> tuple[bytes, str]:
    """The document's bytes and ETag (the codes come from the graph: a snapshot step, built once per
    graph version)."""
    body = orjson.dumps(build_spec(queries, sorted(set(vocab.code_of.values()))), option=orjson.OPT_INDENT_2)
    return body, '"%s"' % hashlib.blake2b(body, digest_size=10).hexdigest()


@spec_bp.get("/openapi.json")
def openapi_json():
    body, etag = get_snapshot().openapi
    resp = validated(etag, lambda: body, mimetype="application/json")
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def render_docs(spec: dict) -> str:
    """HTML of an OpenAPI document: operations by tag, with parameters, bodies, responses, examples."""
    e = html.escape
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           "<title>%s</title><style>%s</style></head><body>" % (e(spec["info"]["title"]), _CSS),
           "<header><h1>%s <small>%s</small></h1><p>%s</p>" % (e(spec["info"]["title"]), e(spec["info"]["version"]),
                                                               e(spec["info"]["description"])),
           "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI %s).</p></header><nav><ul>"
           % e(spec["openapi"])]
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ops.append((op.get("tags", ["other"])[0], path, method, op))
    tags = [t["name"] for t in spec.get("tags", [])]
    tags += sorted({t for t, *_ in ops} - set(tags))
    for path, method, op in [(p, m, o) for _, p, m, o in ops]:
        out.append("<li><a href='#%s'><code>%s %s</code></a> %s</li>"
                   % (e(op["operationId"]), method.upper(), e(path), e(op.get("summary", ""))))
    out.append("</ul></nav><main>")
    for tag in tags:
        tagged = [(p, m, o) for t, p, m, o in ops if t == tag]
        if not tagged:
            continue
        out.append("<h2>%s</h2>" % e(tag))
        for path, method, op in tagged:
            out.append("<section id='%s'><h3><code>%s %s</code></h3><p><strong>%s</strong></p>"
                       % (e(op["operationId"]), method.upper(), e(path), e(op.get("summary", ""))))
            if op.get("description"):
                out.append("<p>%s</p>" % e(op["description"]).replace("\n\n", "</p><p>"))
            if op.get("parameters"):
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>")
                for p in op["parameters"]:
                    out.append("<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                               % (e(p["name"]), e(p["in"]), e(_type_text(p.get("schema", {}))),
                                  "yes" if p.get("required") else "", e(p.get("description", ""))))
                out.append("</table>")
            if op.get("requestBody"):
                content = op["requestBody"]["content"]
                for media, spec_media in content.items():
                    out.append("<p>Body: <code>%s</code>%s</p>" % (e(media), (
                        " e.g. <code>%s</code>" % e(orjson.dumps(spec_media["example"]).decode()))
                        if "example" in spec_media else ""))
            examples = op.get("x-amlkg-examples") or {}
            for p in op.get("parameters", []):
                for ex in (p.get("examples") or {}).values():
                    examples[str(ex["value"])] = "GET %s?%s" % (path, urlencode({p["name"]: ex["value"]}))
            if examples:
                out.append("<p>Examples:</p><ul>")
                for name, text in examples.items():
                    url = text.split(" ", 1)[1] if text.startswith("GET ") else text
                    out.append("<li>%s: <a href='%s'><code>%s</code></a></li>" % (e(name), e(url), e(url)))
                out.append("</ul>")
            out.append("<p>Responses: %s</p></section>" % ", ".join(
                "<code>%s</code> %s" % (e(code), e(_response_text(spec, r))) for code, r in op["responses"].items()))
    out.append("</main><footer><p>%s</p></footer></body></html>" % e(DISCLAIMER))
    return "".join(out)


def _type_text(schema: dict) -> str:
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if schema.get("type") == "array":
        return "comma list of " + _type_text(schema.get("items", {}))
    t = schema.get("type", "")
    bounds = []
    if "minimum" in schema:
        bounds.append("≥ %s" % schema["minimum"])
    if "maximum" in schema:
        bounds.append("≤ %s" % schema["maximum"])
    return ("%s %s" % (t, ", ".join(bounds))).strip() if bounds else str(t)


def _response_text(spec: dict, response: dict) -> str:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response.get("description", "")


_CSS = ("body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#222}"
        "code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse;margin:.5rem 0}"
        "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}"
        "section{border-top:1px solid #ddd;margin-top:1rem}h1 small{font-weight:normal;color:#666}")
