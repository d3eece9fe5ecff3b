"""The pages' blueprint and its routes: `/` (options finder + question), `/entity/<id>`, `/pathway.svg`."""
from __future__ import annotations

import hashlib
import re
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, render_template, request, url_for
from rdflib import URIRef
from werkzeug.datastructures import MultiDict

from .. import negotiation, pathway
from ..disclaimer import DISCLAIMER
from ..served_store import get_store
from ..errors import ProblemError, respond, store_problem
from ..jsonld import graph_to_jsonld
from ..named_queries import ParameterError, bindings_for
from ..options import PROFILE_FIELDS, ProfileError, parse_profile, profile_key
from ..question import parse_question
from ..services import get_finder, get_queries, get_snapshot
from ..store import StoreError, bind_values
from ..vocab import BASE, PREFIXES
from ..xrefs import xref_keys
from . import facts
from .facts import get_facts, ui_query

ENTITY_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,200}$")
LIST_FIELDS = ("mutations", "absent_mutations", "symptoms")
NO_MUTATION = "none"
ENTITY_MEDIA_TYPES = (negotiation.HTML, negotiation.TURTLE, negotiation.JSON_LD, negotiation.NTRIPLES,
                      negotiation.RDF_XML)
RDF_SERIALISATIONS = {negotiation.TURTLE: "turtle", negotiation.JSON_LD: "json-ld",
                      negotiation.NTRIPLES: "nt", negotiation.RDF_XML: "xml"}
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui/static")


def init_app(app: Flask) -> None:
    """Register the pages, and what they derive from each graph version (a step of its snapshot)."""
    facts.init_app(app)
    app.register_blueprint(bp)


# -- helpers ---------------------------------------------------------------------------------------
def entity_id(iri: str) -> str | None:
    """The page id of an IRI in our namespace (None for outside IRIs).

    >>> entity_id("https://w3id.org/amlkg/Ivosidenib"), entity_id("http://purl.obolibrary.org/obo/NCIT_C3171")
    ('Ivosidenib', None)
    """
    if iri.startswith(BASE) and ENTITY_ID.match(iri[len(BASE):]):
        return iri[len(BASE):]
    return None


def entity_url(iri: str) -> str | None:
    local = entity_id(str(iri))
    return url_for("ui.entity", entity=local) if local else None


def web_link(iri: str) -> str | None:
    """`iri` when a browser may follow it as a link: an absolute http(s) IRI and nothing else (a
    curator could insert ``javascript:``, ``data:`` or ``file:`` IRIs; those are shown, never linked).

    >>> [web_link(i) for i in ("https://example.org/a", "HTTP://x.org", "javascript:alert(1)",
    ...                        "java\tscript:x", "data:text/html,x", "urn:x", "https:no-host", " https://x.org")]
    ['https://example.org/a', 'HTTP://x.org', None, None, None, None, None, None]
    """
    from urllib.parse import urlsplit
    if not iri or any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in iri):
        return None
    try:
        parts = urlsplit(iri)
    except ValueError:
        return None
    return iri if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def compact(iri: str) -> str:
    """A CURIE for known namespaces, else the IRI.

    >>> compact("http://www.w3.org/2004/02/skos/core#altLabel"), compact("urn:x")
    ('skos:altLabel', 'urn:x')
    """
    for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns) and len(iri) > len(ns):
            return "%s:%s" % (prefix, iri[len(ns):])
    return iri


def sparql_url(query: str) -> str:
    """The SPARQL query page with `query` in its editor."""
    return request.script_root + "/sparql?" + urlencode({"query": query})


def _strip_header(text: str, note: str) -> str:
    """A named query's text without its `#+` header, with a one-line note on what was bound."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#+"))
    return "# %s\n%s" % (note, body.lstrip("\n"))


def form_raw(args) -> tuple[dict, dict]:
    """The profile fields of a query string, as parse_profile takes them, and errors of the form itself.

    Checkbox lists arrive as repeated parameters (`mutations=IDH1&mutations=FLT3`) or a comma list;
    `mutations=none` (or an empty `mutations=`) says the cells were tested and none was found.
    """
    raw, errors = {}, {}
    for fld in PROFILE_FIELDS:
        if fld not in args:
            continue
        if fld in LIST_FIELDS:
            items = [x.strip() for v in args.getlist(fld) for x in v.split(",") if x.strip()]
            if fld == "mutations":
                none = [i for i in items if i.lower() == NO_MUTATION]
                items = [i for i in items if i.lower() != NO_MUTATION]
                if none and items:
                    errors[fld] = "choose either “none found” or the mutations found, not both"
            raw[fld] = items
        else:
            value = args.get(fld, "").strip()
            if value:
                raw[fld] = value
    return raw, errors


def form_state(args, profile: dict | None = None) -> dict:
    """What the form shows: the parsed profile when there is one, else what was typed."""
    state: dict = {"mutations": set(), "absent_mutations": set(), "symptoms": set(), "disease": "AML", "site": "marrow"}
    if profile is not None:
        for k, v in profile.items():
            state[k] = set(v) if k in LIST_FIELDS else str(v).lower() if isinstance(v, bool) else str(v)
        if profile.get("mutations") == []:
            state["mutations"] = {NO_MUTATION}
        return state
    for fld in PROFILE_FIELDS:
        if fld in LIST_FIELDS:
            vals = {x.strip() for v in args.getlist(fld) for x in v.split(",") if x.strip()}
            state[fld] = {v.upper() if fld in ("mutations", "absent_mutations") and v.lower() != NO_MUTATION
                          else v.lower() for v in vals}
            if fld == "mutations" and fld in args and not vals:
                state[fld] = {NO_MUTATION}
        elif args.get(fld, "").strip():
            state[fld] = args.get(fld).strip()
    return state


def profile_query_string(profile: dict) -> str:
    """The shareable query string of a profile (what the form would send)."""
    pairs = []
    for fld in PROFILE_FIELDS:
        if fld not in profile:
            continue
        value = profile[fld]
        if fld in LIST_FIELDS:
            if not value and fld == "mutations":
                pairs.append((fld, NO_MUTATION))
            pairs += [(fld, v) for v in value]
        else:
            pairs.append((fld, str(value).lower() if isinstance(value, bool) else value))
    return urlencode(pairs)


def describe_profile(profile: dict, labels: dict[str, str]) -> str:
    """A short plain-language summary of a profile.

    >>> describe_profile({"disease": "AML", "status": "relapsed", "mutations": ["IDH1"], "site": "marrow"},
    ...                  {"relapsed": "relapsed AML", "idh1": "IDH1 mutation", "aml": "AML other than APL"})
    'relapsed AML, IDH1 mutation'
    """
    parts = []
    if profile.get("disease") == "APL":
        parts.append(labels.get("apl", "APL"))
    if profile.get("status"):
        parts.append(labels.get(profile["status"].lower(), profile["status"]))
    if "mutations" in profile:
        parts.append(", ".join(labels.get(m.lower(), m) for m in profile["mutations"]) or "no mutation found")
    if profile.get("absent_mutations"):
        parts.append("no " + " or ".join(profile["absent_mutations"]) + " mutation")
    if "remission_months" in profile:
        parts.append("remission of %s months" % profile["remission_months"])
    if "age" in profile:
        parts.append("age %s" % profile["age"])
    if profile.get("prior_therapy"):
        parts.append("after %s" % labels.get(profile["prior_therapy"].lower(), profile["prior_therapy"]))
    if profile.get("site") == "cns":
        parts.append("came back in the %s" % labels.get("cns", "CNS"))
    if profile.get("symptoms"):
        parts.append(", ".join(labels.get(s, s) for s in profile["symptoms"]))
    for flag, yes, no in (("fit", "fit for intensive treatment", "not fit for intensive treatment"),
                          ("donor", "donor found", "no donor"), ("prior_transplant", "after a transplant",
                                                                 "no transplant before"),
                          ("keeps_coming_back", "keeps coming back", "not coming back repeatedly")):
        if flag in profile:
            parts.append(yes if profile[flag] else no)
    return ", ".join(parts)


def profile_bindings(profile: dict) -> dict:
    """The profile bound for the options query (found and ruled-out values), exactly as the finder binds it."""
    bindings, _warnings = get_finder().bindings(profile, get_snapshot().vocabulary)
    return bindings


def options_query(profile: dict) -> str:
    """The options query (queries/options.rq) with this profile bound: what produced the answer."""
    q = get_queries()["options"]
    text = _strip_header(bind_values(q.text, profile_bindings(profile)),
                         "queries/options.rq (%s) with the profile bound" % q.summary.split(" — ")[0])
    return _one_row_per_line(text)


def _one_row_per_line(text: str) -> str:
    """Lay out a bound VALUES block one row per line, for people reading the query.

    >>> print(_one_row_per_line("  VALUES (?f ?v) { (<a> <b>) (<c> <d>) }"))
      VALUES (?f ?v) {
        (<a> <b>)
        (<c> <d>)
      }
    """
    def layout(m: re.Match) -> str:
        indent, head, body = m.group(1), m.group(2), m.group(3)
        rows = re.findall(r"\([^()]*\)", body)
        return "%s%s {\n%s\n%s}" % (indent, head, "\n".join(indent + "  " + r for r in rows), indent)
    return re.sub(r"(?m)^([ \t]*)(VALUES \([^)]*\)) \{ ((?:\([^()]*\) ?)+)\}[ \t]*$", layout, text)


def recommendation_query(rec: str) -> str:
    q = get_queries()["recommendations"]
    return _strip_header(bind_values(q.text, {"recommendation": URIRef(rec)}),
                         "queries/recommendations.rq for one recommendation")


def condition_states(profile: dict) -> dict[str, dict[str, str]]:
    """recommendation -> {condition: met|open|unmet} for a profile (the options query's rows)."""
    rows = get_store().select(get_queries()["options"].text, profile_bindings(profile))
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        out.setdefault(str(r["recommendation"]), {})[str(r["condition"])] = str(r["state"])
    return out


def pathway_svg(profile: dict | None, labels: dict[str, str]) -> str:
    """The pathway picture: the whole document, or the sub-diagram of a profile with its path highlighted."""
    facts = get_facts()
    key = profile_key(profile) if profile is not None else None
    svg = facts.svgs.get(key)
    if svg is not None:
        return svg
    link = lambda iri: entity_url(iri)  # noqa: E731
    if profile is None:
        svg = pathway.render(facts.sections, facts.strengths, link=link,
                             title="Treatment pathway of the document",
                             subtitle="Generated from the knowledge graph. Not medical advice.")
    else:
        answer = get_finder().find(profile)
        taken = {o["recommendation"] for o in answer["options"]}
        svg = pathway.render(facts.sections, facts.strengths, taken=taken, states=condition_states(profile),
                             link=link, title="Treatment pathway for: %s" % describe_profile(profile, labels),
                             subtitle="The options found for this profile are drawn bold. Not medical advice.")
    facts.remember_svg(key, svg)
    return svg


def code_label_map() -> dict[str, str]:
    facts = get_facts()
    out = {}
    for fld, choices in facts.choices.items():
        for code, label in choices:
            out[code.lower()] = label
    return out


def _cards(answer: dict) -> list[dict]:
    facts = get_facts()
    cards = []
    for opt in answer["options"]:
        card = dict(opt)
        card["therapy_url"] = entity_url(opt["therapy"]["id"])
        card["recommendation_url"] = entity_url(opt["recommendation"])
        card["passage"] = facts.passages.get(opt["recommendation"])
        card["colour"] = facts.colours.get(opt["strength"], ("#eee", "#555"))
        card["sparql_url"] = sparql_url(recommendation_query(opt["recommendation"]))
        card["xref_links"] = [(k, v, iri) for iri in opt["therapy"].get("xref_iris", []) if web_link(iri)
                              for k, v in xref_keys([iri]).items()]
        cards.append(card)
    return cards


def _groups(cards: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: list[tuple[str, list[dict]]] = []
    for card in cards:
        if not groups or groups[-1][0] != card["strength"]:
            groups.append((card["strength"], []))
        groups[-1][1].append(card)
    return groups


def ask(text: str) -> dict:
    """A plain-language question -> what was understood, the profile (when it makes one) and what was not.

    Uses kg_service.question (the JSON API's parser) so the page and `/api/ask` read questions alike.
    """
    parsed = parse_question(text)
    raw = dict(parsed.profile)
    problems = {k: "the question names more than one: %s" % ", ".join(map(str, v))
                for k, v in parsed.conflicts.items()}
    profile = None
    if not problems:
        if not raw.get("status"):
            problems["status"] = ("the question does not say whether the leukemia did not go away (refractory) "
                                  "or came back (relapsed); choose it in the form below")
        else:
            try:
                profile = parse_profile(raw)
            except ProfileError as e:
                problems.update(e.errors)
    mentions = []
    for m in parsed.mentions:
        iri = str(m.get("id", ""))
        mentions.append({"label": m.get("label") or m.get("text"), "url": entity_url(iri) if iri else None})
    return {"profile": profile, "raw": raw, "unrecognized": list(parsed.unrecognized),
            "problems": problems, "mentions": mentions, "warnings": list(parsed.warnings)}


# -- routes ----------------------------------------------------------------------------------------
@bp.get("/")
def home():
    """The options finder: the form, a question box, and the answer as cards with their sources."""
    facts = get_facts()
    labels = code_label_map()
    question = request.args.get("q", "").strip()
    profile, errors, asked = None, {}, None
    if question:
        if len(question) > 500:
            errors["q"] = "a question of at most 500 characters, please"
        else:
            asked = ask(question)
            profile = asked["profile"]
    elif any(f in request.args for f in PROFILE_FIELDS):
        raw, errors = form_raw(request.args)
        try:
            profile = parse_profile(raw)
        except ProfileError as e:
            errors.update(e.errors)
        if errors:
            profile = None
    answer = get_finder().find(profile) if profile is not None else None
    cards = _cards(answer) if answer else []
    if asked is not None and profile is None:
        state = form_state(MultiDict(_raw_pairs(asked["raw"])))
    else:
        state = form_state(request.args, profile)
    context = dict(
        facts=facts, labels=labels, state=state, errors=errors, question=question, asked=asked,
        profile=profile, answer=answer, groups=_groups(cards), count=len(cards),
        summary=describe_profile(profile, labels) if profile else "",
        share_url=(url_for("ui.home") + "?" + profile_query_string(profile)) if profile else None,
        options_sparql_url=sparql_url(options_query(profile)) if profile else None,
        pathway_url=(url_for("ui.pathway_picture") + ("?" + profile_query_string(profile) if profile else "")),
        svg=_inline(pathway_svg(profile, labels)), disclaimer=DISCLAIMER,
    )
    return render_template("ui/home.html", **context), (400 if errors else 200)


def _raw_pairs(raw: dict) -> list[tuple[str, str]]:
    pairs = []
    for k, v in raw.items():
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            pairs.append((k, str(item)))
    return pairs


def _inline(svg: str) -> str:
    """An SVG document ready to sit inside HTML (no XML declaration)."""
    return svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg


@bp.get("/pathway.svg")
def pathway_picture():
    """The decision structure as SVG; with profile parameters, the sub-diagram with the path taken."""
    unknown = sorted(set(request.args) - set(PROFILE_FIELDS))
    if unknown:
        raise ProblemError(400, "Invalid profile", "unknown parameters: %s" % ", ".join(unknown),
                           kind="invalid-profile", errors={u: "not a profile field" for u in unknown})
    profile = None
    if request.args:
        raw, errors = form_raw(request.args)
        try:
            profile = parse_profile(raw)
        except ProfileError as e:
            errors = {**e.errors, **errors}
        if errors:
            raise ProblemError(400, "Invalid profile", "; ".join("%s: %s" % kv for kv in errors.items()),
                               kind="invalid-profile", errors=errors)
    try:
        svg = pathway_svg(profile, code_label_map())
    except StoreError as e:
        raise store_problem(e) from None
    resp = Response(svg, mimetype="image/svg+xml")
    resp.set_etag(hashlib.sha256(svg.encode("utf-8")).hexdigest()[:32])
    resp.headers["Cache-Control"] = "no-cache"
    return resp.make_conditional(request)


@bp.get("/entity/<entity>")
def entity(entity: str):
    """One entity: HTML for people, Turtle / JSON-LD / N-Triples / RDF-XML for machines (linked data)."""
    fmt = request.args.get("format")
    try:
        if fmt:
            media_type = negotiation.format_override(fmt, "CONSTRUCT")
            if media_type is None or media_type not in ENTITY_MEDIA_TYPES:
                raise ProblemError(400, "Unknown format", "format=%s is not one of html, turtle, jsonld, "
                                   "ntriples, rdfxml" % fmt, kind="unknown-format")
        else:
            media_type = negotiation.negotiate(request.headers.get("Accept"), ENTITY_MEDIA_TYPES,
                                               tuple(negotiation.RDF_ALIASES.items()))
    except negotiation.NotAcceptable as e:
        raise ProblemError(406, "Not Acceptable", str(e), kind="not-acceptable")
    iri = URIRef(BASE + entity) if ENTITY_ID.match(entity) else None
    store = get_store()
    if iri is None or not store.ask(ui_query("entity-exists"), {"entity": iri}):
        if media_type == negotiation.HTML:
            resp = Response(render_template("ui/not_found.html", entity=entity, disclaimer=DISCLAIMER), 404)
            resp.headers["Vary"] = "Accept"
            return resp
        raise ProblemError(404, "Not Found", "the graph knows no entity %r" % entity, kind="not-found")
    if media_type != negotiation.HTML:
        graph = store.construct(ui_query("entity-describe"), {"entity": iri})
        for prefix, ns in PREFIXES.items():
            graph.bind(prefix, ns)
        fmt_name = RDF_SERIALISATIONS[media_type]
        body = graph_to_jsonld(graph) if fmt_name == "json-ld" else graph.serialize(format=fmt_name)
        resp = Response(body, mimetype=media_type)
        resp.headers["Vary"] = "Accept"
        resp.headers["Link"] = '<%s>; rel="alternate"; type="text/html"' % url_for("ui.entity", entity=entity)
        return resp
    resp = Response(render_template("ui/entity.html", **entity_context(iri)))
    resp.headers["Vary"] = "Accept"
    return resp


def entity_context(iri: URIRef) -> dict:
    """What the entity page shows, from the entity, entity-recommendations and approvals queries."""
    store = get_store()
    queries = get_queries()
    rows = store.select(queries["entity"].text, bindings_for(queries["entity"], {"entity": str(iri)}))
    out_rows = [r for r in rows if str(r["direction"]) == "out"]
    in_rows = [r for r in rows if str(r["direction"]) == "in"]

    def values(prop: str) -> list[str]:
        return sorted({str(r["value"]) for r in out_rows if str(r["property"]) == prop})

    def linked(prop: str, direction: list[dict]) -> list[dict]:
        seen, out = set(), []
        for r in direction:
            if str(r["property"]) == prop and isinstance(r["value"], URIRef) and str(r["value"]) not in seen:
                seen.add(str(r["value"]))
                out.append({"iri": str(r["value"]), "label": str(r.get("valueLabel") or compact(str(r["value"]))),
                            "url": entity_url(str(r["value"]))})
        return sorted(out, key=lambda d: d["label"].lower())

    labels = values(RDFS + "label")
    brands = values(BASE + "brandName")
    synonyms = [s for s in values(SKOS + "altLabel") if s not in brands]
    types = [t for t in linked(RDF_TYPE, out_rows) if t["iri"] not in (OWL + "NamedIndividual",)]
    is_class = any(t["iri"] == OWL + "Class" for t in types)
    kinds = [t for t in types if t["iri"] != OWL + "Class"]
    parents = [p for p in linked(RDFS + "subClassOf", out_rows)]
    children = linked(RDFS + "subClassOf", in_rows)
    xref_iris = values(SKOS + "exactMatch")
    xrefs = []
    for x in xref_iris:
        keys = xref_keys([x])
        xrefs.append({"iri": x, "url": web_link(x), "label": ", ".join("%s %s" % kv for kv in keys.items()) or x})
    db_xrefs = values("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    definitions = values(SKOS + "definition") + values(RDFS + "comment")
    rec_rows = store.select(ui_query("entity-recommendations"), {"entity": iri})
    recs, seen = [], {}
    facts = get_facts()
    for r in rec_rows:
        rec = str(r["recommendation"])
        if rec in seen:
            if str(r["role"]) not in seen[rec]["roles"]:
                seen[rec]["roles"].append(str(r["role"]))
            continue
        seen[rec] = {"iri": rec, "url": entity_url(rec), "roles": [str(r["role"])],
                     "therapy": str(r["therapyLabel"]), "therapy_url": entity_url(str(r["therapy"])),
                     "strength": str(r["strength"]), "wording": str(r["wording"]), "quote": str(r["quote"]),
                     "section": str(r["section"]), "colour": facts.colours.get(str(r["strength"]), ("#eee", "#555"))}
        recs.append(seen[rec])
    approvals_q = queries["approvals"]
    approvals = []
    try:
        approvals = store.select(approvals_q.text, bindings_for(approvals_q, {"drug": str(iri)}))
    except ParameterError:
        approvals = []
    statements = []
    for r in rows:
        value = r["value"]
        is_iri = isinstance(value, URIRef)
        statements.append({
            "direction": str(r["direction"]), "property": compact(str(r["property"])),
            "property_iri": str(r["property"]),
            "value": str(r.get("valueLabel") or (compact(str(value)) if is_iri else str(value))),
            "value_iri": str(value) if is_iri else None,
            "url": (entity_url(str(value)) or web_link(str(value))) if is_iri else None,
        })
    recommendation = None
    if any(t["iri"] == BASE + "Recommendation" for t in kinds):
        recommendation = recommendation_view(str(iri))
    local = str(iri)[len(BASE):]
    return dict(
        iri=str(iri), local=local, label=labels[0] if labels else local, labels=labels, brands=brands,
        synonyms=synonyms, is_class=is_class, kinds=kinds, parents=parents, children=children, xrefs=xrefs,
        db_xrefs=db_xrefs, definitions=definitions, recommendations=recs, approvals=approvals,
        statements=statements, recommendation=recommendation, disclaimer=DISCLAIMER,
        turtle_url=url_for("ui.entity", entity=local, format="turtle"),
        jsonld_url=url_for("ui.entity", entity=local, format="jsonld"),
        api_url=request.script_root + "/api/entities/" + local,
        sparql_url=sparql_url(_strip_header(
            bind_values(get_queries()["entity"].text, {"entity": iri}), "queries/entity.rq for %s" % local)),
    )


def recommendation_view(rec: str) -> dict | None:
    """A recommendation's own card: its therapy, strength, conditions and quote in its section."""
    store = get_store()
    q = get_queries()["recommendations"]
    rows = store.select(q.text, {"recommendation": URIRef(rec)})
    if not rows:
        return None
    r = rows[0]
    facts = get_facts()
    conditions = store.select(ui_query("recommendation-conditions"), {"recommendation": URIRef(rec)})
    return {"therapy": str(r["therapyLabel"]), "therapy_url": entity_url(str(r["therapy"])),
            "strength": str(r["strength"]), "wording": str(r["wording"]),
            "caveat": str(r["caveat"]) if "caveat" in r else None,
            "note": str(r["note"]) if "note" in r else None,
            "colour": facts.colours.get(str(r["strength"]), ("#eee", "#555")),
            "conditions": [(str(c["text"]), str(c.get("factorLabel", ""))) for c in conditions],
            "passage": facts.passages.get(rec), "quote": str(r["quote"]), "section": str(r["section"]),
            "document_title": str(r["documentTitle"]), "revised": str(r["revised"]),
            "document_url": entity_url(str(r["document"]))}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page (the bare SVG picture included); answer with our icon."""
    resp = bp.send_static_file("favicon.svg")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


#: the pages load nothing from elsewhere and run no script; inline styles are the SVG's and the cards' colours
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'self'")


@bp.after_request
def _headers(resp: Response) -> Response:
    """Every page and picture: no sniffing, and a content security policy that allows only our own files."""
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    if resp.mimetype in ("text/html", "image/svg+xml"):
        resp.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return resp


@bp.errorhandler(StoreError)
def _store_down(e: StoreError):
    """A page that cannot reach the graph: problem+json, like every other route, unless the client
    prefers HTML (a browser's Accept names text/html), which gets the same status as a page. Ties and
    ``*/*`` go to problem+json."""
    p = store_problem(e)  # the status every route gives this trouble (a query cut at its limit: 504)
    if not request.path.endswith(".svg") and _prefers_html(request.headers.get("Accept")):
        resp = Response(render_template("ui/unavailable.html", detail=p.detail, timeout=p.status == 504,
                                        disclaimer=DISCLAIMER), p.status)
        resp.headers.update(p.headers)
        resp.headers["Vary"] = "Accept"
        return resp
    return respond(p, Vary="Accept")


def _prefers_html(accept: str | None) -> bool:
    """Does the client rank HTML above problem+json? (`negotiate` gives ties to the first offered.)

    >>> _prefers_html("text/html,application/xhtml+xml,*/*;q=0.8"), _prefers_html("*/*"), _prefers_html(None)
    (True, False, False)
    """
    try:
        return negotiation.negotiate(accept, ("application/problem+json", "text/html")) == "text/html"
    except negotiation.NotAcceptable:
        return False
