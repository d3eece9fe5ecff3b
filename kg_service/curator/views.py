"""The curator routes (blueprint `curator`, under /curator), registered only when KG_CURATOR_TOKEN is set.

- ``POST /curator/update``: SPARQL 1.1 Update (``application/sparql-update`` body, or form field
  ``update``), confined to the curators' graph;
- ``GET|PUT|POST|DELETE /curator/graph``: the Graph Store Protocol on the curators' graph only
  (``?graph=`` may name it; any other graph is refused). Bodies: Turtle or N-Triples.

Every request needs ``Authorization: Bearer <KG_CURATOR_TOKEN>`` (compared in constant time). No CORS
headers are sent, so pages of other origins cannot call these routes from a browser. A write answers
200 with its audit record only after the write and the record are on disk (storage.apply_write).
"""
from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

import orjson
from flask import Blueprint, Response, current_app, request

from ..errors import ProblemError, query_timeout
from ..served_store import get_store, recycle_worker
from ..sparql.guard import check_graph_iris, inspect_update, refuse_if_too_complex
from ..store import QueryTimeout, StoreError
from ..store import rdf as ox
from . import storage
from .storage import CURATOR_GRAPH, CuratorError

bp = Blueprint("curator", __name__, url_prefix="/curator")
UPDATE = "application/sparql-update"
FORM = "application/x-www-form-urlencoded"
RDF_BODIES = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
              "text/plain": ox.RdfFormat.N_TRIPLES}
_EXT = "amlkg_curator"


@bp.before_request
def _authorize():
    """Bearer token, constant-time compare; 401 (with WWW-Authenticate) otherwise."""
    settings = current_app.extensions[_EXT]
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise _unauthorized("Send the curator token as `Authorization: Bearer <token>`.", "")
    if not hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), settings["token"]):
        raise _unauthorized("The token is not the curator token.", ', error="invalid_token"')
    length = request.content_length
    if length is not None and length > settings["max_bytes"]:
        raise ProblemError(413, "Payload Too Large", "A curator write is at most %d bytes (KG_CURATOR_MAX_BYTES)."
                           % settings["max_bytes"], kind="payload-too-large")


def _unauthorized(detail: str, error: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, kind="unauthorized",
                        headers={"WWW-Authenticate": 'Bearer realm="amlkg-curator"%s' % error})


def _body() -> bytes:
    limit = current_app.extensions[_EXT]["max_bytes"]
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise ProblemError(413, "Payload Too Large", "A curator write is at most %d bytes." % limit,
                           kind="payload-too-large")
    return data


def _write(change, operation: str, what: str) -> Response:
    settings = current_app.extensions[_EXT]
    try:
        record = storage.apply_write(settings["location"], change, operation=operation, who=settings["name"],
                                     client=request.remote_addr, what=what, timeout=settings["timeout"],
                                     )
    except CuratorError as e:
        raise ProblemError(e.status, e.title, e.detail, kind=e.kind) from None
    except QueryTimeout as e:
        recycle_worker()  # the abandoned write may still be running on its thread
        raise query_timeout(settings["timeout"], "%s; nothing was changed. Narrow the update's WHERE "
                            "clause (it would run out of time again)." % e) from None
    try:
        get_store().refresh()  # this worker serves its own write at once; others within KG_REFRESH_INTERVAL
    except (StoreError, AttributeError):
        pass
    body = {k: record[k] for k in ("id", "t", "who", "operation", "graph", "graph_version_before",
                                   "graph_version_after", "triples_after", "what_sha256", "committed_at")}
    return Response(orjson.dumps(body), status=200, mimetype="application/json")


@bp.post("/update")
def update():
    """SPARQL 1.1 Update on the curators' graph (LOAD and SERVICE refused: no fetching)."""
    mimetype = request.mimetype
    if mimetype == UPDATE:
        try:
            text = _body().decode("utf-8")
        except UnicodeDecodeError:
            raise ProblemError(400, "Malformed update", "The update is not valid UTF-8.", kind="malformed-request")
    elif mimetype == FORM:
        try:
            form = dict(parse_qsl(_body().decode("ascii"), keep_blank_values=True, encoding="utf-8",
                                  errors="strict"))
        except (UnicodeDecodeError, ValueError):
            raise ProblemError(400, "Malformed form body", "The URL-encoded body is not valid UTF-8.",
                               kind="malformed-request")
        text = form.get("update", "")
    else:
        raise ProblemError(415, "Unsupported Media Type", "POST the update as %s, or as %s with field `update`."
                           % (UPDATE, FORM), kind="unsupported-media-type")
    if not text.strip():
        raise ProblemError(400, "Missing update", "The request carries no update.", kind="missing-update")
    info = inspect_update(text)
    if info.service:
        raise ProblemError(403, "LOAD and SERVICE not allowed",
                           "Curator updates cannot fetch anything: LOAD and SERVICE are refused. Send the "
                           "triples themselves (INSERT DATA, or PUT /curator/graph).", kind="network-refused")
    refuse_if_too_complex(info, current_app.extensions[_EXT]["max_complexity"], "update")
    return _write(storage.sparql_update(text), "update", text)


def _check_graph_param() -> None:
    graphs = request.args.getlist("graph")
    check_graph_iris(graphs, "graph")  # not an IRI at all: 400, like every dataset IRI
    if "default" in request.args or any(g != CURATOR_GRAPH for g in graphs):
        raise ProblemError(403, "Graph not writable", "Curators write only the graph <%s>." % CURATOR_GRAPH,
                           kind="write-outside-curator-graph")


def _triples() -> tuple[list, str]:
    fmt = RDF_BODIES.get(request.mimetype)
    if fmt is None:
        raise ProblemError(415, "Unsupported Media Type", "Send the graph as text/turtle or application/n-triples.",
                           kind="unsupported-media-type")
    data = _body()
    try:
        text = data.decode("utf-8")
        triples = [t for t in ox.parse(data, format=fmt, base_iri=CURATOR_GRAPH)]
    except (UnicodeDecodeError, SyntaxError, ValueError) as e:
        raise ProblemError(400, "Malformed graph", str(e)[:300], kind="malformed-graph") from None
    if any(getattr(t, "graph_name", None) not in (None, ox.DefaultGraph()) for t in triples):
        raise ProblemError(400, "Malformed graph", "Send triples, not quads.", kind="malformed-graph")
    return [ox.Triple(t.subject, t.predicate, t.object) for t in triples], text


@bp.route("/graph", methods=["GET", "PUT", "POST", "DELETE"])
def graph():
    """The Graph Store Protocol, on the curators' graph only."""
    _check_graph_param()
    if request.method == "GET":
        store = get_store()
        g = store.construct("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%s> { ?s ?p ?o } }" % CURATOR_GRAPH)
        return Response(g.serialize(format="nt", encoding="utf-8"), mimetype="application/n-triples")
    if request.method == "DELETE":
        return _write(storage.clear_graph(), "gsp-delete", "")
    triples, text = _triples()
    if request.method == "PUT":
        return _write(storage.replace_graph(triples), "gsp-put", text)
    return _write(storage.add_triples(triples), "gsp-post", text)
