"""/sparql without a query: the query page for browsers, the service description for machines."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Response, current_app, render_template, request, url_for

from .. import negotiation as n
from ..cache import get_cache
from ..errors import ProblemError
from ..served_store import get_store
from . import description
from .endpoint import content_type, endpoint_base, limits

log = logging.getLogger("kg_service.sparql")

SD_OFFERED = tuple(description.SD_FORMATS) + (n.HTML,)
SD_ALIASES = tuple((k, v) for k, v in n.RDF_ALIASES.items() if v in description.SD_FORMATS)
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")
DEFAULT_QUERY = """SELECT ?entity ?label WHERE {
  ?entity rdfs:label ?label .
  FILTER(STRSTARTS(STR(?entity), STR(amlkg:)))
}
ORDER BY ?label
LIMIT 25
"""


def no_query(params) -> Response:
    """GET /sparql without a query: HTML for browsers, else the service description."""
    fmt = params.get("format") or params.get("output")
    media_type = n.format_override(fmt, "CONSTRUCT") if fmt else None
    accept = request.environ.get("HTTP_ACCEPT")
    if fmt and media_type not in SD_OFFERED:
        if not any(r[0] != "*" for r in n.parse_accept(accept)):  # an unknown format= yields to an Accept
            raise ProblemError(406, "Not Acceptable", "The service description is available as %s."
                               % ", ".join(SD_OFFERED), kind="not-acceptable", available=list(SD_OFFERED))
        media_type = None
    if media_type is None:
        try:
            media_type = n.negotiate(accept, SD_OFFERED, SD_ALIASES)
        except n.NotAcceptable:
            raise ProblemError(406, "Not Acceptable", "The service description is available as %s."
                               % ", ".join(SD_OFFERED), kind="not-acceptable")
    if media_type == n.HTML:
        return query_page(params.get("query") or "", autorun=False)
    return service_description(media_type)


def service_description(media_type: str) -> Response:
    """The SPARQL 1.1 Service Description, cached per graph version and endpoint URL."""
    store = get_store()
    version = store.graph_version()
    endpoint = endpoint_base(request.environ)
    key = ("service-description", endpoint, media_type)
    cache = get_cache()
    body = cache.get(version, key)
    if body is None:
        lim = limits()
        triples = description.describe(store, endpoint, timeout=lim.timeout, row_cap=lim.row_cap,
                                       max_query_bytes=lim.max_query_bytes)
        body = description.serialize(triples, media_type)
        cache.put(version, key, body)
    return Response(body, content_type=content_type(media_type), headers=[("Vary", "Accept")])


def query_page(query: str, *, autorun: bool) -> Response:
    """The query editor, pre-filled with `query` (or the prefixes and a first query)."""
    from ..vocab import PREFIXES
    prefixes = "".join("PREFIX %s: <%s>\n" % kv for kv in PREFIXES.items())
    examples = load_examples()
    html = render_template(
        "sparql/query.html",
        query=query or (prefixes + "\n" + DEFAULT_QUERY),
        autorun=bool(autorun and query),
        examples=examples,
        examples_json=examples_json(examples),
        prefixes_json=json.dumps(PREFIXES).replace("<", "\\u003c"),
        prefixes=PREFIXES,
        endpoint=url_for("sparql.endpoint"),
        limits=current_app.extensions["amlkg_sparql"],
    )
    resp = Response(html, content_type="text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Vary"] = "Accept"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def queries_dir() -> Path:
    configured = current_app.config.get("KG_QUERIES_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "queries"


def load_examples() -> list[dict]:
    """The named queries of queries/*.rq as examples: name, one-line summary, text.

    Read at each page view (cheap, and always current); a missing folder or an unreadable file
    just means fewer examples.
    """
    folder = queries_dir()
    examples = []
    try:
        paths = sorted(folder.glob("*.rq"))
    except OSError:
        return []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            log.warning("example query %s unreadable: %s", path, e)
            continue
        summary = ""
        for line in text.splitlines():
            if line.startswith("#+ summary:"):
                summary = line[len("#+ summary:"):].strip()
                break
        examples.append({"name": path.stem, "summary": summary, "text": text})
    return examples


def examples_json(examples) -> str:
    """The examples for the page's script, safe inside a <script type="application/json"> element."""
    return json.dumps({e["name"]: e["text"] for e in examples}).replace("<", "\\u003c")
