"""The api blueprint and its routes under /api: options, ask, named queries, entities, search
(see CONTRACT.md), and the documentation page `/api/docs` (rendered by `openapi`)."""
from __future__ import annotations

from functools import lru_cache

import orjson
from flask import Blueprint, Flask, request
from rdflib import URIRef

from .. import cache, services
from ..errors import ProblemError
from ..named_queries import Param, ParameterError, bindings_for, to_term
from ..negotiation import NotAcceptable, negotiate
from ..options import PROFILE_FIELDS, ProfileError, merge_answers, parse_profile, profile_key
from ..question import parse_question
from ..served_store import get_store
from ..services import get_finder, get_queries, get_snapshot
from ..store import QuerySyntaxError
from . import openapi
from .graphdata import SearchIndex, entity_document
from .respond import CSV, JSON, bad_request, cached_answer, dumps, plain_value, rows_csv, single_args, validated

bp = Blueprint("api", __name__, url_prefix="/api")

LIST_FIELDS = ("mutations", "absent_mutations", "symptoms")
MAX_BODY = 64 * 1024
MAX_QUESTION = 500
SEARCH_LIMIT = (1, 100, 20)
STATUS_HINT = ("Say whether the leukemia came back after a remission (relapsed) or did not go away with "
               "treatment (refractory), e.g. 'options for IDH1+ relapse' or 'refractory AML with FLT3'.")


def init_app(app: Flask) -> None:
    """Register the api blueprint, /openapi.json, the shared result cache, and what the api derives
    from each graph version (the search index, the OpenAPI document: steps of its snapshot)."""
    cache.init_app(app)
    queries = services.queries_of(app)
    services.add_snapshot_step(app, "search", lambda _store, snap: SearchIndex(snap.lexicon))
    services.add_snapshot_step(app, "openapi", lambda _store, snap: openapi.spec_document(queries, snap.vocabulary))
    app.register_blueprint(bp)
    app.register_blueprint(openapi.spec_bp)


def invalid_profile(e: ProfileError, status: int = 400) -> ProblemError:
    return ProblemError(status, "Invalid profile", "; ".join("%s: %s" % kv for kv in e.errors.items()),
                        kind="invalid-profile", errors=e.errors)


# -- options ------------------------------------------------------------------------------------
@bp.route("/options", methods=["GET", "POST"])
def options():
    """The options finder: profile fields as query parameters (GET) or a JSON object (POST)."""
    if request.method == "POST":
        raw = _json_object()
    else:
        raw = single_args(request.args, lists=LIST_FIELDS)
    try:
        profile = parse_profile(raw)
    except ProfileError as e:
        raise invalid_profile(e) from None
    finder = get_finder()
    return cached_answer(("options", profile_key(profile)), lambda: dumps(finder.find(profile)),
                         conditional=request.method == "GET")


def _json_object() -> dict:
    """The request body as a JSON object, or a problem saying what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ProblemError(413, "Payload too large", "a profile is at most %d bytes" % MAX_BODY)
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ProblemError(415, "Unsupported media type",
                           "send the profile as a JSON object with Content-Type: application/json "
                           "(got %s)" % (mimetype or "no Content-Type"), headers={"Accept-Post": JSON})
    data = request.get_data(cache=False)
    if len(data) > MAX_BODY:
        raise ProblemError(413, "Payload too large", "a profile is at most %d bytes" % MAX_BODY)
    if not data.strip():
        raise bad_request("Invalid profile", {"body": "empty: send a JSON object of profile fields"},
                          kind="invalid-profile")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise bad_request("Invalid profile", {"body": "not valid JSON (%s)" % e}, kind="invalid-profile") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid profile", {"body": "must be a JSON object of profile fields, not %s"
                                              % type(body).__name__}, kind="invalid-profile")
    return body


# -- plain-language questions -------------------------------------------------------------------
@bp.get("/ask")
def ask():
    """A plain-language question, read into a profile with the graph's own names, and answered."""
    raw = single_args(request.args)
    unknown = {k: "not a parameter (use q)" for k in raw if k != "q"}
    q = (raw.get("q") or "").strip()
    if not q:
        unknown["q"] = "required: a question, e.g. 'options for IDH1+ relapse'"
    elif len(q) > MAX_QUESTION:
        unknown["q"] = "at most %d characters" % MAX_QUESTION
    if unknown:
        raise bad_request("Invalid question", unknown)
    return cached_answer(("ask", q), lambda: dumps(answer_question(q)))


def answer_question(q: str) -> dict:
    """The /api/ask answer for a question (raises 422 problems when it cannot be answered)."""
    finder = get_finder()
    lexicon = get_snapshot().lexicon
    parsed = parse_question(q, lexicon)
    understood = {"profile": parsed.profile, "understood": parsed.understood, "mentions": parsed.mentions,
                  "unrecognized": parsed.unrecognized}
    if "status" in parsed.conflicts:
        raise ProblemError(422, "Ambiguous question",
                           "the question reads as both %s; ask about one" % " and ".join(parsed.conflicts["status"]),
                           kind="ambiguous-question", hint=STATUS_HINT, **understood)
    if "status" not in parsed.profile and not parsed.statuses:
        raise ProblemError(422, "Question not understood",
                           "could not tell whether the leukemia is relapsed or refractory", kind="unanswerable-question",
                           hint=STATUS_HINT, **understood)
    try:
        profiles = [parse_profile(raw) for raw in parsed.profiles]  # one per status named as alternatives
    except ProfileError as e:
        raise ProblemError(422, "Question not understood", "; ".join("%s: %s" % kv for kv in e.errors.items()),
                           kind="unanswerable-question", errors=e.errors, hint=STATUS_HINT, **understood) from None
    answer = merge_answers([finder.find(p) for p in profiles])
    options = answer["options"]
    mentions = []
    if parsed.mentions:
        options = [dict(o) for o in options]  # the finder's answer is shared: copy before marking
        for m in parsed.mentions:
            entity = lexicon.entities.get(m["id"])
            hits, against = [], []
            for o in options:
                if _mentioned(m, entity, o, lexicon):
                    o["mentioned"] = True
                    (against if o["strength"] == "not likely helpful" else hits).append(o["recommendation"])
            mentions.append({**m, "among_options": bool(hits), "options": hits, "advised_against": against})
        for o in options:
            o.setdefault("mentioned", False)
    return {"question": q, "profile": answer["profile"], "defaults": answer["defaults"],
            "understood": parsed.understood, "mentions": mentions,
            "unrecognized": parsed.unrecognized, "options": options,
            "warnings": parsed.warnings + answer["warnings"], "disclaimer": answer["disclaimer"],
            "graph_version": answer.get("graph_version")}


def _mentioned(mention: dict, entity, option: dict, lexicon) -> bool:
    """An option concerns a named treatment when it is that treatment, a narrower or broader one, or
    is given along with it."""
    therapy = option["therapy"]["id"]
    if therapy == mention["id"] or mention["label"] in option.get("combined_with", ()):
        return True
    t = lexicon.entities.get(therapy)
    return bool((t is not None and mention["id"] in t.ancestors) or (entity is not None and therapy in entity.ancestors))


# -- named queries ------------------------------------------------------------------------------
@bp.get("/queries")
def list_queries():
    """Every named query with its parameters and examples."""
    return cached_answer(("queries",), lambda: dumps({"queries": [describe_query(q) for q in get_queries().values()]}))


def describe_query(q) -> dict:
    params = []
    for p in q.params.values():
        if p.type == "profile":
            params.extend(_profile_params())
            continue
        params.append({"name": p.name, "type": p.type, "required": p.required, "description": p.description,
                       "values": p.values})
    examples = []
    for name, values in q.examples.items():
        query_string = "&".join("%s=%s" % (k, ",".join(map(str, v)) if isinstance(v, list) else v)
                                for k, v in values.items())
        examples.append({"name": name, "params": values,
                         "url": "/api/queries/%s%s" % (q.name, "?" + query_string if query_string else "")})
    return {"name": q.name, "summary": q.summary, "description": q.description, "tags": q.tags, "form": q.form,
            "url": "/api/queries/%s" % q.name, "file": "queries/%s" % q.path.name, "parameters": params,
            "examples": examples}


def _profile_params() -> list[dict]:
    from ..options import CHOICES
    out = []
    for f in PROFILE_FIELDS:
        out.append({"name": f, "type": "decimal" if f == "remission_months" else "integer" if f == "age" else "code",
                    "required": f == "status", "description": "profile field %s (see /api/options)" % f,
                    "values": list(CHOICES[f]) if f in CHOICES else None})
    return out


@bp.get("/queries/<name>")
def run_query(name: str):
    """Run one named query with its parameters bound as typed RDF terms; JSON rows or CSV."""
    queries = get_queries()
    query = queries.get(name)
    if query is None:
        raise ProblemError(404, "Unknown query", "no named query %r; see /api/queries" % name, kind="unknown-query")
    try:
        media = negotiate(request.headers.get("Accept"), (JSON, CSV), (("application/*", JSON), ("text/*", CSV)))
    except NotAcceptable:
        raise ProblemError(406, "Not acceptable", "this answer comes as %s or %s" % (JSON, CSV)) from None
    finder = get_finder()
    store = get_store()
    snap = finder.snapshot(store)
    if any(p.type == "profile" for p in query.params.values()):
        raw = single_args(request.args, lists=LIST_FIELDS)
        try:
            profile = parse_profile(raw)
        except ProfileError as e:
            raise invalid_profile(e) from None
        bindings, _warnings = finder.bindings(profile, snap.vocabulary)
        key_params = profile_key(profile)
        echo = profile
    else:
        raw = single_args(request.args)
        try:
            bindings = bindings_for(query, raw, code_lookup=snap.vocabulary.code)
        except ParameterError as e:
            raise bad_request("Invalid parameters", e.errors) from None
        key_params = tuple(sorted((k, v.n3() if v is not None else None) for k, v in bindings.items()))
        echo = {k: plain_value(v) for k, v in bindings.items() if v is not None}

    def build() -> bytes:
        columns, rows = _run(store, query, bindings)
        if media == CSV:
            return rows_csv(columns, rows)
        return dumps({"query": query.name, "params": echo, "columns": columns, "rows": rows})

    return cached_answer(("query", name, key_params, media), build, mimetype=media)


def _run(store, query, bindings) -> tuple[list[str], list[dict]]:
    form = query.form
    if form == "ASK":
        return ["boolean"], [{"boolean": store.ask(query.text, bindings)}]
    if form in ("CONSTRUCT", "DESCRIBE"):
        g = store.construct(query.text, bindings)
        rows = sorted(({"subject": str(s), "predicate": str(p), "object": plain_value(o)} for s, p, o in g),
                      key=lambda r: (r["subject"], r["predicate"], str(r["object"])))
        return ["subject", "predicate", "object"], rows
    try:
        result = store.select(query.text, bindings)
    except QuerySyntaxError as e:
        # the .rq files parse (checked at start-up and in tests), so a bound value was refused
        raise bad_request("Invalid parameters", {"parameters": "a value could not be bound: %s" % e}) from None
    columns = projection(query)
    for r in result:
        for k in r:
            if k not in columns:
                columns.append(k)
    return columns, [{c: plain_value(r.get(c)) for c in columns} for r in result]


def projection(query) -> list[str]:
    """The variables a SELECT projects, in order (so CSV headers and empty answers keep their columns)."""
    return list(_parse_projection(query.text))


@lru_cache(maxsize=256)
def _parse_projection(text: str) -> tuple[str, ...]:
    """The projection of a query text: a pure function of the text (the named queries, loaded at start),
    whatever the graph version.

    >>> _parse_projection("SELECT ?a (COUNT(?b) AS ?n) ?a WHERE { ?a ?p ?b }")
    ('a', 'n')
    """
    import re
    body = re.sub(r"(?m)#.*$", "", text)
    m = re.search(r"\bSELECT\b(.*?)(?:\bWHERE\b|\{|\bFROM\b)", body, re.IGNORECASE | re.DOTALL)
    if not m:
        return ()
    clause, cols, depth = m.group(1), [], 0
    for tok in re.finditer(r"\(|\)|\bAS\s+\?(\w+)|\?(\w+)", clause, re.IGNORECASE):
        if tok.group(0) == "(":
            depth += 1
        elif tok.group(0) == ")":
            depth -= 1
        elif tok.group(1):
            cols.append(tok.group(1))
        elif depth == 0 and tok.group(2):
            cols.append(tok.group(2))
    return tuple(c for i, c in enumerate(cols) if c not in cols[:i])


# -- entities and search ------------------------------------------------------------------------
@bp.get("/entities/<path:entity_id>", merge_slashes=False)
def entity(entity_id: str):
    """One entity: labels, types, synonyms and brand names, cross-references, links, recommendations."""
    if request.args:
        raise bad_request("Invalid parameters", {k: "not a parameter" for k in request.args})
    iri = resolve_id(entity_id)
    if iri is None:
        raise ProblemError(404, "Unknown entity", "%r is not an entity id (a local name such as Ivosidenib, "
                           "amlkg:Ivosidenib, or a full IRI)" % entity_id, kind="unknown-entity")
    store, queries, finder = get_store(), get_queries(), get_finder()

    def build() -> bytes:
        doc = entity_document(store, queries, finder.snapshot(store), iri)
        if doc is None:
            raise ProblemError(404, "Unknown entity", "the graph says nothing about %s" % iri, kind="unknown-entity")
        return dumps(doc)

    return cached_answer(("entity", iri), build)


def resolve_id(entity_id: str) -> str | None:
    """A local name, `amlkg:` name or full IRI as the entity's IRI; None when it cannot be one.

    >>> resolve_id("Ivosidenib"), resolve_id("amlkg:Ivosidenib"), resolve_id("https:/w3id.org/amlkg/Ivosidenib")
    ('https://w3id.org/amlkg/Ivosidenib', 'https://w3id.org/amlkg/Ivosidenib', 'https://w3id.org/amlkg/Ivosidenib')
    >>> resolve_id("x> } DROP ALL") is None
    True
    """
    import re
    entity_id = entity_id.strip()
    m = re.match(r"^(https?):/+(.*)$", entity_id)
    if m:
        entity_id = "%s://%s" % (m.group(1), m.group(2))
    try:
        term = to_term(Param("entity", "iri"), entity_id)
    except ValueError:
        return None
    return str(term) if isinstance(term, URIRef) else None


@bp.get("/search")
def search():
    """Entities whose label, brand name or synonym matches q (case- and accent-insensitive, ranked)."""
    raw = single_args(request.args)
    errors = {k: "not a parameter (use q, limit)" for k in raw if k not in ("q", "limit")}
    q = (raw.get("q") or "").strip()
    if not q:
        errors["q"] = "required: text to look for in labels, brand names and synonyms"
    elif len(q) > 200:
        errors["q"] = "at most 200 characters"
    low, high, limit = SEARCH_LIMIT
    if "limit" in raw:
        text = raw["limit"].strip()
        if not text.isdigit() or not (low <= int(text) <= high):
            errors["limit"] = "a whole number from %d to %d" % (low, high)
        else:
            limit = int(text)
    if errors:
        raise bad_request("Invalid search", errors)
    def build() -> bytes:
        results = get_snapshot().search.search(q, limit)
        return dumps({"query": q, "limit": limit, "count": len(results), "results": results})

    return cached_answer(("search", q, limit), build)


# -- documentation ------------------------------------------------------------------------------
@bp.get("/docs")
def docs():
    """The API documentation as one plain HTML page, rendered from /openapi.json."""
    body, etag = get_snapshot().openapi
    return validated(etag, lambda: openapi.render_docs(orjson.loads(body)), mimetype="text/html")
