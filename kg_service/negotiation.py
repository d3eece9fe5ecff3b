"""Content negotiation for SPARQL answers: media-type maps, Accept parsing with q-values, query forms.

Pure functions, no Flask: the endpoint (and the JSON API) call them with header strings.
Everything here runs on every uncached request, so parsed Accept headers are memoised.
"""
from __future__ import annotations

import re
from functools import lru_cache

SPARQL_JSON = "application/sparql-results+json"
SPARQL_XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
NTRIPLES = "application/n-triples"
RDF_XML = "application/rdf+xml"
JSON_LD = "application/ld+json"
NQUADS = "application/n-quads"
TRIG = "application/trig"
HTML = "text/html"

#: SELECT/ASK result formats we write, in order of preference, with the W3C format IRI of each
#: (http://www.w3.org/ns/formats/) for the service description.
RESULT_MEDIA_TYPES = {
    SPARQL_JSON: "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
    SPARQL_XML: "http://www.w3.org/ns/formats/SPARQL_Results_XML",
    CSV: "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
    TSV: "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
}
#: CONSTRUCT/DESCRIBE graph formats we write, in order of preference.
RDF_MEDIA_TYPES = {
    TURTLE: "http://www.w3.org/ns/formats/Turtle",
    NTRIPLES: "http://www.w3.org/ns/formats/N-Triples",
    RDF_XML: "http://www.w3.org/ns/formats/RDF_XML",
    JSON_LD: "http://www.w3.org/ns/formats/JSON-LD",
    # a graph is a dataset with only a default graph: valid N-Quads and TriG as well
    NQUADS: "http://www.w3.org/ns/formats/N-Quads",
    TRIG: "http://www.w3.org/ns/formats/TriG",
}
#: Other names clients use for the same formats (answered with the canonical type).
RESULT_ALIASES = {"application/json": SPARQL_JSON, "application/xml": SPARQL_XML, "text/xml": SPARQL_XML}
RDF_ALIASES = {"application/x-turtle": TURTLE, "application/turtle": TURTLE, "text/n3": TURTLE,
               "text/rdf+n3": TURTLE, "application/n3": TURTLE, "text/plain": NTRIPLES,
               "application/xml": RDF_XML, "text/xml": RDF_XML, "application/json": JSON_LD,
               "application/x-json+ld": JSON_LD,
               "text/x-nquads": NQUADS, "application/x-trig": TRIG}

#: `format=` values (also SPARQLWrapper's `format`/`output` names) -> media type, per answer kind.
RESULT_FORMAT_NAMES = {"json": SPARQL_JSON, "srj": SPARQL_JSON, "xml": SPARQL_XML, "srx": SPARQL_XML,
                       "csv": CSV, "tsv": TSV, "html": HTML}
RDF_FORMAT_NAMES = {"turtle": TURTLE, "ttl": TURTLE, "n3": TURTLE, "ntriples": NTRIPLES,
                    "n-triples": NTRIPLES, "nt": NTRIPLES, "rdfxml": RDF_XML, "rdf+xml": RDF_XML,
                    "rdf": RDF_XML, "xml": RDF_XML, "jsonld": JSON_LD, "json-ld": JSON_LD,
                    "json": JSON_LD, "nquads": NQUADS, "n-quads": NQUADS, "nq": NQUADS,
                    "trig": TRIG, "html": HTML}

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_FORMS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


class NotAcceptable(ValueError):
    """None of the offered media types is acceptable to the client."""

    def __init__(self, offered):
        super().__init__("acceptable here: " + ", ".join(offered))
        self.offered = list(offered)


@lru_cache(maxsize=512)
def parse_accept(header: str | None) -> tuple[tuple[str, str, float], ...]:
    """Parse an Accept header into (type, subtype, q) ranges, most preferred first.

    A missing or empty header accepts anything. Malformed parts are skipped, not fatal.

    >>> parse_accept("application/sparql-results+xml;q=0.4, application/sparql-results+json;q=0.9")
    (('application', 'sparql-results+json', 0.9), ('application', 'sparql-results+xml', 0.4))
    >>> parse_accept("")
    (('*', '*', 1.0),)
    >>> parse_accept("text/*;q=0.5, text/csv, bogus, */*;q=x")
    (('text', 'csv', 1.0), ('*', '*', 1.0), ('text', '*', 0.5))
    """
    if not header or not header.strip():
        return (("*", "*", 1.0),)
    ranges = []
    for part in header.split(","):
        fields = part.split(";")
        mtype = fields[0].strip().lower()
        if mtype == "*":
            mtype = "*/*"
        if "/" not in mtype:
            continue
        main, _, sub = mtype.partition("/")
        if not main or not sub:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value.strip())))
                except ValueError:
                    q = 1.0
        ranges.append((main, sub, q))
    ranges.sort(key=lambda r: -r[2])  # stable: equal q keep the client's order
    return tuple(ranges) or (("*", "*", 1.0),)


def quality(ranges, media_type: str) -> float:
    """The q a client gives `media_type`: that of the most specific matching range (RFC 9110 12.5.1).

    >>> r = parse_accept("text/*;q=0.3, text/csv;q=0.7, */*;q=0.1")
    >>> quality(r, "text/csv"), quality(r, "text/turtle"), quality(r, "image/png")
    (0.7, 0.3, 0.1)
    """
    main, _, sub = media_type.partition("/")
    best, best_rank = 0.0, -1
    for rmain, rsub, q in ranges:
        if rmain == main and rsub == sub:
            rank = 2
        elif rmain == main and rsub == "*":
            rank = 1
        elif rmain == "*" and rsub == "*":
            rank = 0
        else:
            continue
        if rank > best_rank:
            best, best_rank = q, rank
    return best


@lru_cache(maxsize=1024)
def negotiate(accept: str | None, offered: tuple[str, ...], aliases: tuple[tuple[str, str], ...] = ()) -> str:
    """Choose from `offered` (server preference order) the type the client wants most.

    `aliases` are (other name, offered type) pairs: a client asking for the other name gets the
    offered type. Ties go to the server's order. Raises `NotAcceptable` when nothing has q > 0.

    >>> offer = tuple(RESULT_MEDIA_TYPES)
    >>> negotiate("application/sparql-results+xml;q=0.4, application/sparql-results+json;q=0.9", offer)
    'application/sparql-results+json'
    >>> negotiate(None, offer), negotiate("*/*", offer), negotiate("text/*", offer)
    ('application/sparql-results+json', 'application/sparql-results+json', 'text/csv')
    >>> negotiate("application/xml", offer, tuple(RESULT_ALIASES.items()))
    'application/sparql-results+xml'
    >>> negotiate("image/png", offer)
    Traceback (most recent call last):
    ...
    kg_service.negotiation.NotAcceptable: acceptable here: application/sparql-results+json, application/sparql-results+xml, text/csv, text/tab-separated-values
    """
    ranges = parse_accept(accept)
    best, best_q = None, 0.0
    for media_type in offered:
        q = quality(ranges, media_type)
        for alias, target in aliases:
            if target == media_type:
                # an alias counts only when the client names it: */* already matched the real type
                qa = _explicit_quality(ranges, alias)
                if qa > q:
                    q = qa
        if q > best_q:
            best, best_q = media_type, q
    if best is None:
        raise NotAcceptable(offered)
    return best


def _explicit_quality(ranges, media_type: str) -> float:
    main, _, sub = media_type.partition("/")
    for rmain, rsub, q in ranges:
        if rmain == main and rsub == sub:
            return q
    return 0.0


def offers_for(form: str | None, *, html: bool = False) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(offered media types, aliases) for a query form; `html` adds the query page last.

    >>> offers_for("CONSTRUCT")[0]
    ('text/turtle', 'application/n-triples', 'application/rdf+xml', 'application/ld+json', 'application/n-quads', 'application/trig')
    """
    if form in ("CONSTRUCT", "DESCRIBE"):
        offered, aliases = tuple(RDF_MEDIA_TYPES), _RDF_ALIAS_PAIRS
    else:
        offered, aliases = tuple(RESULT_MEDIA_TYPES), _RESULT_ALIAS_PAIRS
    return (offered + (HTML,) if html else offered), aliases


def a_query(form: str | None) -> str:
    """The query form with its indefinite article, for messages.

    >>> a_query("ASK"), a_query("SELECT"), a_query(None)
    ('an ASK query', 'a SELECT query', 'a SPARQL query')
    """
    name = form or "SPARQL"
    return "%s %s query" % ("an" if name[:1] in "AEIOU" else "a", name)


_RESULT_ALIAS_PAIRS = tuple(RESULT_ALIASES.items())
_RDF_ALIAS_PAIRS = tuple(RDF_ALIASES.items())


def format_override(name: str, form: str | None) -> str | None:
    """The media type a `format=` value names for this query form (None when it names nothing).

    Accepts short names (json, xml, csv, tsv, turtle, ntriples, rdfxml, jsonld, html) and full media types.

    >>> format_override("csv", "SELECT"), format_override("xml", "CONSTRUCT"), format_override("json", "DESCRIBE")
    ('text/csv', 'application/rdf+xml', 'application/ld+json')
    >>> format_override("text/turtle", "CONSTRUCT"), format_override("csv", "CONSTRUCT")
    ('text/turtle', None)
    """
    key = name.strip().lower()
    graph = form in ("CONSTRUCT", "DESCRIBE")
    names, types, aliases = ((RDF_FORMAT_NAMES, RDF_MEDIA_TYPES, RDF_ALIASES) if graph
                             else (RESULT_FORMAT_NAMES, RESULT_MEDIA_TYPES, RESULT_ALIASES))
    if key in names:
        return names[key]
    if key in types or key == HTML:
        return key
    return aliases.get(key)


# The prologue (comments, BASE, PREFIX) then the first keyword. Possessive/atomic so a hostile
# query cannot make it backtrack; linear in the prologue's length.
_PROLOGUE_FORM = re.compile(
    r"(?:\s|\#[^\n\r]*+|BASE\s*+<[^<>\s]*+>|PREFIX\s*+[^\s:<]*+:\s*+<[^<>\s]*+>)*+"
    r"(SELECT|ASK|CONSTRUCT|DESCRIBE|INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)",
    re.IGNORECASE)


def query_form(text: str) -> str | None:
    """The form of a SPARQL request: SELECT, ASK, CONSTRUCT, DESCRIBE, an update keyword, or None.

    Comments, BASE and PREFIX declarations are skipped; nothing is parsed beyond the first keyword.

    >>> query_form("PREFIX ex: <http://example.org/#> # a comment\\nconstruct { ?s ?p ?o } WHERE { ?s ?p ?o }")
    'CONSTRUCT'
    >>> query_form("BASE <http://x/> ASK{}"), query_form("  insert data { <a> <b> <c> }"), query_form("hello")
    ('ASK', 'INSERT', None)
    """
    m = _PROLOGUE_FORM.match(text)
    return m.group(1).upper() if m else None


def is_update(form: str | None) -> bool:
    """True for the keywords that start a SPARQL Update operation.

    >>> is_update("LOAD"), is_update("SELECT"), is_update(None)
    (True, False, False)
    """
    return form in UPDATE_FORMS
