"""The SPARQL 1.1 Protocol query operation at /sparql (read-only).

GET, URL-encoded POST and direct POST; `default-graph-uri` / `named-graph-uri`; content
negotiation with q-values and a `format=` override; without a query, the query page (browsers)
or the service description (everything else).

Safety, in request order: size limits (414/413) before anything is parsed; updates refused (403);
the query inspected by `guard` (SERVICE refused, nesting bounded); dataset IRIs resolved against
this store only; the store's deadline cuts runaway queries (504 query-timeout, and the worker is
recycled);
answers capped at KG_RESULT_ROW_CAP rows. Answers are cached per graph version.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, quote

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from .. import negotiation as n
from ..cache import get_cache
from ..served_store import get_store
from ..services import get_snapshot
from ..errors import ProblemError, respond, store_problem
from ..graph_formats import rewrite as rewrite_graph, store_media_type
from ..request_log import CACHE, QUERY_HASH, query_hash
from ..store import StoreError
from .endpoint import Limits, content_type, endpoint_base, limits
from .guard import check_graph_iris, inspect_query, refuse_if_too_complex
from .rowcap import cap_rows

bp = Blueprint("sparql", __name__, url_prefix="/sparql", static_folder="static",
               static_url_path="/static", template_folder="templates")

FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
CORS = (("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers",
         "X-AMLKG-Truncated, X-AMLKG-Row-Cap, X-AMLKG-Warning, X-AMLKG-Cache, Retry-After"))
@bp.after_request
def _cors(resp: Response) -> Response:
    """Every /sparql answer, errors included, may be read by pages of any origin."""
    headers = resp.headers
    for k, v in CORS:
        headers[k] = v
    return resp


@bp.route("", methods=["GET", "POST", "OPTIONS"], strict_slashes=False)
def endpoint():
    """The protocol's query operation; without a query, the page or the service description."""
    method = request.method
    if method == "OPTIONS":
        return _preflight()
    lim = limits()
    environ = request.environ
    if method == "POST":
        params, query = _post_params(lim)
        key = None
    else:
        raw = environ.get("QUERY_STRING", "")
        if len(raw) > lim.max_raw:
            raise _too_long(414, lim)
        params = request.args
        query = _one_query(params)
        key = get_cache_key(environ, raw)
    if "update" in params or "using-graph-uri" in params or "using-named-graph-uri" in params:
        raise _update_refused()
    if query is None or not query.strip():
        if method == "POST":
            raise ProblemError(400, "Missing query", "The request has no `query` parameter.",
                               kind="missing-query")
        from .pages import no_query
        return no_query(params)
    if len(query) > lim.max_query_bytes or (4 * len(query) > lim.max_query_bytes
                                            and len(query.encode("utf-8")) > lim.max_query_bytes):
        raise _too_long(413 if method == "POST" else 414, lim)
    return answer(query, params, key)


class NeedsTheApp(Exception):
    """The request must go through the Flask app after all (an HTML query page was asked for)."""


def answer(query: str, params, key=None, environ=None, *, pages: bool = True) -> Response:
    """Run (or recall) one query and answer it in the negotiated format; `key` is its cache key
    (derived from the parameters when not given). Needs an app context, not a request context
    (`environ` defaults to the current request's); with `pages=False` a request that negotiates the
    HTML query page raises NeedsTheApp before anything is evaluated."""
    store = get_store()
    version = store.graph_version()
    environ = request.environ if environ is None else environ
    default = tuple(params.getlist("default-graph-uri"))
    named = tuple(params.getlist("named-graph-uri"))
    accept = environ.get("HTTP_ACCEPT")
    fmt = params.get("format") or params.get("output")
    base = endpoint_base(environ)
    cache = get_cache()
    if key is None:
        key = ("params", query, default, named, accept, fmt, base)
    if not environ.get("amlkg.cache_checked"):
        hit = cache.get(version, key)
        if hit is not None:
            body, ctype, headers, qhash = hit
            environ[QUERY_HASH], environ[CACHE] = qhash, "hit"
            return Response(body, headers=headers + (("X-AMLKG-Cache", "hit"),), content_type=ctype)
    # the request log identifies the query by a keyed hash, never by its text
    qhash = environ[QUERY_HASH] = query_hash(query, current_app.extensions.get("amlkg_request_log", b""))
    environ[CACHE] = "miss"

    lim = limits()
    info = inspect_query(query, base, max_complexity=lim.max_complexity)
    if n.is_update(info.form):
        raise _update_refused()
    if info.service:
        raise ProblemError(400, "SERVICE not allowed",
                           "This endpoint does not make requests to other services: queries using "
                           "SERVICE (federated query) are refused. Run the federated part against the "
                           "other endpoint, or load its data locally.", kind="service-refused")
    refuse_if_too_complex(info, lim.max_complexity)
    media_type = _choose(info.form, accept, fmt)
    if media_type == n.HTML:
        if not pages:
            raise NeedsTheApp()
        from .pages import query_page
        return query_page(query, autorun=True)

    # every dataset IRI is checked as the parser checks an IRI, wherever it came from (else 400)
    check_graph_iris(default, "default-graph-uri")
    check_graph_iris(named, "named-graph-uri")
    check_graph_iris(info.from_graphs, "FROM")
    check_graph_iris(info.from_named, "FROM NAMED")
    if default or named:  # the protocol's dataset replaces the query's own (SPARQL 1.1 Protocol 2.1.4)
        default_graphs, named_graphs = list(default), list(named)
    elif info.has_dataset:
        default_graphs, named_graphs = list(info.from_graphs), list(info.from_named)
    else:
        default_graphs = named_graphs = None
    headers = [("Vary", "Accept")]
    if default_graphs is not None:
        held = get_snapshot(store).graphs  # a field of the version's snapshot (a step of sparql.init_app)
        unknown = [g for g in default_graphs + named_graphs if g not in held]
        if unknown:
            headers.append(("X-AMLKG-Warning", header_value(
                "%d dataset graph(s) not held by this store were taken as empty (never fetched): %s"
                % (len(unknown), " ".join("<%s>" % quote(g[:MAX_HEADER_BYTES], safe=":/#?&=;@+,~!$*'()[]%")
                                          for g in unknown[:3])))))
    try:
        body = store.raw(query, store_media_type(media_type), default_graphs=default_graphs,
                         named_graphs=named_graphs, base_iri=base)
    except StoreError as e:
        raise store_problem(e) from None
    body, truncated = cap_rows(body, store_media_type(media_type), lim.row_cap)
    body = rewrite_graph(body, media_type)  # JSON-LD with the amlkg context, N-Quads, TriG
    if truncated:
        headers += [("X-AMLKG-Truncated", "true"), ("X-AMLKG-Row-Cap", str(lim.row_cap)),
                    ("X-AMLKG-Warning", "result cut to the first %d rows (the row cap); add LIMIT/OFFSET "
                     "to page through the rest" % lim.row_cap)]
    ctype = content_type(media_type)
    headers = tuple(headers)
    cache.put(version, key, (body, ctype, headers, qhash), size=len(body) + len(query) + 256)
    return Response(body, headers=headers + (("X-AMLKG-Cache", "miss"),), content_type=ctype)


def _choose(form: str | None, accept: str | None, fmt: str | None) -> str:
    """The media type to answer in: `format=` if it names one for this query form, else the Accept
    header's best match (an unknown `format=` never overrides a usable Accept)."""
    offered, aliases = n.offers_for(form, html=True)
    answers = [t for t in offered if t != n.HTML]
    if fmt:
        media_type = n.format_override(fmt, form)
        if media_type is not None:
            return media_type
        if not _names_a_type(accept):
            raise ProblemError(406, "Not Acceptable", "format=%s is not available for %s; available: %s"
                               % (fmt[:40], n.a_query(form), ", ".join(answers)),
                               kind="not-acceptable", available=answers)
    try:
        return n.negotiate(accept, offered, aliases)
    except n.NotAcceptable:
        raise ProblemError(406, "Not Acceptable", "None of the accepted media types (%s) can carry the "
                           "answer to %s; available: %s" % ((accept or "")[:200], n.a_query(form),
                                                             ", ".join(answers)),
                           kind="not-acceptable", available=answers)


def _names_a_type(accept: str | None) -> bool:
    """Whether an Accept header asks for something specific (not absent, not only */*)."""
    return any(r[0] != "*" for r in n.parse_accept(accept))


def _one_query(params) -> str | None:
    queries = params.getlist("query")
    if len(queries) > 1:
        raise ProblemError(400, "More than one query", "The request has %d `query` parameters; "
                           "send exactly one." % len(queries), kind="multiple-queries")
    return queries[0] if queries else None


def _post_params(lim: Limits):
    """(parameters, query text) of a POST: URL-encoded form or direct `application/sparql-query`."""
    mimetype = request.mimetype
    if mimetype == FORM:
        body = _read_body(lim.max_raw, lim)
        try:
            form = MultiDict(parse_qsl(body.decode("ascii"), keep_blank_values=True,
                                       encoding="utf-8", errors="strict"))
        except (UnicodeDecodeError, ValueError):
            raise ProblemError(400, "Malformed form body", "The URL-encoded body is not valid UTF-8.",
                               kind="malformed-request")
        params = CombinedMultiDict([request.args, form])
        return params, _one_query(params)
    if mimetype == DIRECT:
        charset = (request.mimetype_params.get("charset") or "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise ProblemError(415, "Unsupported charset", "A direct POST must be UTF-8 "
                               "(charset=%s given)." % charset[:40], kind="unsupported-charset")
        body = _read_body(lim.max_query_bytes, lim)
        try:
            query = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProblemError(400, "Malformed query", "The query is not valid UTF-8 (byte %d)." % e.start,
                               kind="malformed-request")
        params = request.args
        if "query" in params:
            raise ProblemError(400, "More than one query", "A direct POST carries the query in its body; "
                               "the URL must not have a `query` parameter too.", kind="multiple-queries")
        return params, query
    if mimetype == UPDATE:
        raise _update_refused()
    raise ProblemError(415, "Unsupported Media Type",
                       "POST a query as %s (parameter `query`) or as %s; got %s."
                       % (FORM, DIRECT, (request.content_type or "no Content-Type")[:80]),
                       kind="unsupported-media-type")


def _read_body(limit: int, lim: Limits) -> bytes:
    """The request body, refusing (413) anything longer than `limit` without reading it all."""
    length = request.content_length
    if length is not None and length > limit:
        _drain(length)
        raise _too_long(413, lim)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise _too_long(413, lim)
    return body


def _drain(length: int) -> None:
    """Read and drop a refused body (up to 16 MB) so the client reliably sees our answer: closing a
    socket with unread data makes the kernel reset the connection, and the answer is lost."""
    stream = request.stream
    left = min(length, 16 * 1024 * 1024)
    while left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            break
        left -= len(chunk)


def _too_long(status: int, lim: Limits) -> ProblemError:
    where = "request body" if status == 413 else "URL"
    return ProblemError(status, "Query too long" if status == 414 else "Payload Too Large",
                        "The query (%s) is longer than this endpoint accepts (%d bytes of query text)."
                        "%s" % (where, lim.max_query_bytes,
                                " Send long queries with POST." if status == 414 else ""),
                        kind="query-too-long", max_query_bytes=lim.max_query_bytes)


def _update_refused() -> ProblemError:
    return ProblemError(403, "Updates not allowed",
                        "This is a read-only SPARQL endpoint: SPARQL Update (INSERT, DELETE, LOAD, "
                        "CLEAR, DROP, …) is refused and nothing was changed. The graph is rebuilt from "
                        "its sources with `python -m kg_service build`.", kind="update-refused")


#: longest header value built from request input (a longer one is cut and ends with CUT_MARK)
MAX_HEADER_BYTES = 300
CUT_MARK = " ...[cut]"


def header_value(text: str, limit: int = MAX_HEADER_BYTES) -> str:
    """`text` (ASCII) bounded to `limit` bytes for a response header; a cut one ends with CUT_MARK,
    so a client sees that it was cut (a 900 KB header is refused by most clients).

    >>> header_value("x" * 1000).endswith(CUT_MARK), len(header_value("x" * 1000)), header_value("short")
    (True, 300, 'short')
    """
    if len(text) <= limit:
        return text
    return text[:limit - len(CUT_MARK)] + CUT_MARK


def get_cache_key(environ, raw: str) -> tuple:
    """A GET's answer is cached under its raw query string (with Accept and the endpoint's base):
    CachedAnswers finds it again without parsing."""
    return ("get", raw, environ.get("HTTP_ACCEPT"), endpoint_base(environ))


class CachedAnswers:
    """WSGI middleware: GET /sparql of the usual shape is answered before Flask's request machinery.

    A repeated GET is answered from the cache (the endpoint's hot path: skipping the request
    context, routing and the response object roughly halves its cost). A new GET whose parameters
    are only `query` and the protocol's dataset and format ones, without a body, runs the same
    `answer` in an app context, skipping routing, the request object and the request hooks (about
    100 µs of ~450; benchmarks/README.md); its errors are the same problem documents. Everything
    else (POST, other parameters, the HTML query page, a store that cannot be opened) goes to the app.

    `answer_at_hand` finds a cached answer without waiting for anything (no refresh due, no query,
    no network); the front (kg_service.front) then runs the request on its event loop instead of
    handing it to a thread and back, and this middleware sends the answer it found.
    """

    PATHS = ("/sparql", "/sparql/")
    #: the parameters a GET may carry and still be answered without the app
    DIRECT_PARAMS = frozenset(("query", "default-graph-uri", "named-graph-uri", "format", "output"))
    #: the environ key under which `answer_at_hand` leaves the answer it found
    AT_HAND = "amlkg.answer_at_hand"
    #: the largest cached answer sent from the event loop (compressing it there must stay short)
    AT_HAND_MAX_BYTES = 64 * 1024

    def __init__(self, wsgi_app, served, cache, app=None):
        self.wsgi_app, self.served, self.cache, self.app = wsgi_app, served, cache, app

    def _cacheable(self, environ) -> str | None:
        """The raw query string of a GET this middleware may answer from the cache, else None."""
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") in self.PATHS \
                and self.cache.max_entries:
            return environ.get("QUERY_STRING") or None
        return None

    def answer_at_hand(self, environ) -> bool:
        """True when this GET's answer is in the cache and found without waiting; it is kept in
        `environ` for `__call__`. Never blocks (the version comes from `ServedStore.version_at_hand`)."""
        raw = self._cacheable(environ)
        if raw is None:
            return False
        version = self.served.version_at_hand()
        if version is None:
            return False
        hit = self.cache.get(version, get_cache_key(environ, raw))
        if hit is None or len(hit[0]) > self.AT_HAND_MAX_BYTES:
            return False
        environ[self.AT_HAND] = hit
        return True

    def __call__(self, environ, start_response):
        hit = environ.pop(self.AT_HAND, None)
        raw = self._cacheable(environ) if hit is None else None
        if raw:
            try:
                version = self.served.get().graph_version()
            except Exception:  # noqa: BLE001 - the app will answer (and report) the error
                version = None
            if version is not None:
                hit = self.cache.get(version, get_cache_key(environ, raw))
                environ["amlkg.cache_checked"] = True
                if hit is None:
                    direct = self._answer_directly(environ, raw)
                    if direct is not None:
                        return direct(environ, start_response)
        if hit is not None:
            body, ctype, headers, qhash = hit
            environ[QUERY_HASH] = qhash
            environ[CACHE] = "hit"
            start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                      *headers, *CORS, ("X-AMLKG-Cache", "hit")])
            return [body]
        return self.wsgi_app(environ, start_response)

    def _answer_directly(self, environ, raw: str) -> Response | None:
        """The answer to an uncached GET of the usual shape, or None to let the app answer."""
        if self.app is None or environ.get("CONTENT_LENGTH") not in (None, "", "0") \
                or environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        lim: Limits = self.app.extensions["amlkg_sparql"]
        if len(raw) > lim.max_raw:
            return None
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            return None
        params = MultiDict(pairs)
        if not params.keys() <= self.DIRECT_PARAMS or len(params.getlist("query")) != 1:
            return None
        query = params["query"]
        if not query.strip() or len(query.encode("utf-8")) > lim.max_query_bytes:
            return None
        with self.app.app_context():
            try:
                resp = answer(query, params, get_cache_key(environ, raw), environ, pages=False)
            except NeedsTheApp:
                return None
            except ProblemError as e:
                resp = respond(e)
            except Exception:  # noqa: BLE001 - store trouble, or a fault: the app answers it (and logs it)
                return None
            finally:
                self.served.recycle_if_poisoned()
        return _cors(resp)


def _preflight() -> Response:
    """CORS preflight: any origin may GET/POST queries with the protocol's headers."""
    resp = Response(status=204)
    resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = _allowed_headers(request.headers.get("Access-Control-Request-Headers"))
    resp.headers["Access-Control-Max-Age"] = "86400"
    resp.headers["Allow"] = "GET, POST, OPTIONS"
    return resp


def _allowed_headers(asked: str | None) -> str:
    """The preflight's Access-Control-Allow-Headers: the header names asked for, echoed (a list of
    names, bounded to MAX_HEADER_BYTES: a longer list is cut after its last whole name, since a
    marker would be read as one more name).

    >>> _allowed_headers(None), _allowed_headers("Accept, X-Mine")
    ('Accept, Content-Type', 'Accept, X-Mine')
    >>> long = _allowed_headers(", ".join("X-H%d" % i for i in range(200))); len(long) <= 300, long.endswith("X-H")
    (True, False)
    """
    if not asked:
        return "Accept, Content-Type"
    if len(asked) <= MAX_HEADER_BYTES:
        return asked
    return asked[:MAX_HEADER_BYTES].rsplit(",", 1)[0]
