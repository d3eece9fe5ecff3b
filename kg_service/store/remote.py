"""A remote SPARQL 1.1 server as the store, for data that outgrows one machine.

Queries go over the SPARQL 1.1 Protocol as form-encoded POSTs that always carry ``Accept``
(Virtuoso hangs on a direct ``application/sparql-query`` POST and answers an ASK without
``Accept`` in HTML); requests (over urllib3) keeps the connections alive and answers auth
challenges. A build writes through the Graph Store Protocol (one PUT per graph) when a GSP URL is
configured, else through SPARQL Update.

Settings are one :class:`RemoteSettings`, by default read from the environment:

- ``update_url`` / ``KG_STORE_UPDATE_URL``: SPARQL Update endpoint; default the query URL with a
  final ``/query`` turned into ``/update`` (Oxigraph, Fuseki), else the query URL itself.
- ``gsp_url`` / ``KG_STORE_GSP_URL``: Graph Store Protocol endpoint (Oxigraph ``/store``); unset,
  a build writes with SPARQL Update. ``gsp_graph_param`` / ``KG_STORE_GSP_GRAPH_PARAM``: ``graph``.
- ``user`` / ``KG_STORE_USER``, ``password`` / ``KG_STORE_PASSWORD``, ``auth`` / ``KG_STORE_AUTH``:
  ``basic`` (sent up front) or ``digest``; unset, whichever challenge the server sends is answered
  (one extra round trip per request: set ``basic`` for Fuseki or GraphDB behind Basic auth).
- ``connect_timeout`` / ``KG_STORE_CONNECT_TIMEOUT``: 3 s. ``read_timeout`` / ``KG_STORE_READ_TIMEOUT``:
  30 s for a read (a call's own ``timeout=`` wins). ``write_timeout`` / ``KG_STORE_WRITE_TIMEOUT``:
  300 s for one write request.
- ``retries`` / ``KG_STORE_RETRIES``: 3, after ``backoff`` 0.1 s, doubling each time.

Errors map onto the interface: a 400 is :class:`QuerySyntaxError`; no answer within the read
timeout (or a server-side timeout message) is :class:`QueryTimeout`; a refused or reset
connection and 502/503/504 are retried with exponential backoff and then raise
:class:`StoreUnavailable` (with ``retry_after``). Remembered between calls: a short "was down"
mark that spares the next calls the backoff (the first call after the server comes back answers),
and the build's version with our graphs' list, read again after ``version_ttl`` seconds.
The retry policy is this module's own (`RemoteStore._call`) rather than urllib3's ``Retry``: that
one cannot skip the backoff while the server is known down, and counts a read timeout (never
retried here) with a dropped answer (retried).
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, NamedTuple

import orjson
import pyoxigraph as ox
import rdflib
import requests
import requests.adapters
import requests.auth
import urllib3
from rdflib import BNode, Literal, URIRef

from .base import (GRAPH_BASE, META_GRAPH, VERSION_PREDICATE, DatasetMissing, QuerySyntaxError,
                   QueryTimeout, Store, StoreError, StoreUnavailable, store_query)
from .binding import bind_values, term_to_sparql
from .embedded import to_rdflib

log = logging.getLogger(__name__)

USER_AGENT = "amlkg-remote-store"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

SELECT_ACCEPT = "application/sparql-results+json"
ASK_ACCEPT = "application/sparql-results+json"
CONSTRUCT_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"
# media types a server may answer in place of the one asked for, meaning the same bytes
MEDIA_TYPE_ALIASES = {
    "application/n-triples": {"text/plain"},
    "application/sparql-results+json": {"application/json"},
    "application/sparql-results+xml": {"application/xml"},
    "text/turtle": {"application/x-turtle"},
}
RETRY_STATUS = frozenset({502, 503, 504})
# how servers word a query they cut (oxigraph, Virtuoso SR171/S1T00 and its cost estimate, Fuseki, GraphDB)
_TIMEOUT_TEXT = re.compile(r"time ?out|timed out|S1T00|SR171|estimated execution time|"
                           r"QueryCancelled|query was cancelled", re.IGNORECASE)
_READ_CHUNK = 1 << 16
FORM = "application/x-www-form-urlencoded"


def derive_update_url(url: str) -> str:
    """The SPARQL Update URL that goes with a query URL: ``…/query`` becomes ``…/update``.

    >>> derive_update_url("http://127.0.0.1:7878/query")
    'http://127.0.0.1:7878/update'
    >>> derive_update_url("http://localhost:3030/ds/query?x=1")
    'http://localhost:3030/ds/update?x=1'
    >>> derive_update_url("http://127.0.0.1:8890/sparql")   # Virtuoso, GraphDB, QLever: one URL
    'http://127.0.0.1:8890/sparql'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.path.endswith("/query"):
        return urllib.parse.urlunsplit(parts._replace(path=parts.path[:-len("query")] + "update"))
    return url


def term_from_json(value: Mapping) -> rdflib.term.Identifier:
    """One term of SPARQL JSON results as the rdflib term the embedded backend gives.

    >>> term_from_json({"type": "literal", "value": "x", "datatype": XSD_STRING})
    rdflib.term.Literal('x')
    >>> term_from_json({"type": "typed-literal", "value": "1",
    ...                 "datatype": "http://www.w3.org/2001/XMLSchema#boolean"})  # Virtuoso's way
    rdflib.term.Literal('true', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#boolean'))
    >>> term_from_json({"type": "literal", "value": "Rückfall", "xml:lang": "de"})
    rdflib.term.Literal('Rückfall', lang='de')
    >>> term_from_json({"type": "uri", "value": "https://w3id.org/amlkg/IDH1Mutation"})
    rdflib.term.URIRef('https://w3id.org/amlkg/IDH1Mutation')
    """
    kind, text = value.get("type"), value.get("value")
    if not isinstance(text, str):
        raise StoreError("a result term without a value: %r" % (value,))
    if kind == "uri":
        return URIRef(text)
    if kind in ("literal", "typed-literal"):
        lang = value.get("xml:lang")
        if lang:
            return Literal(text, lang=lang)
        datatype = value.get("datatype")
        if not datatype or datatype in (XSD_STRING, RDF_LANG_STRING):
            return Literal(text)
        return Literal(text, datatype=URIRef(datatype))
    if kind == "bnode":
        return BNode(text)
    raise StoreError("unsupported result term %r" % (value,))


def _media_essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _answers_as(asked: str, got: str) -> bool:
    asked = _media_essence(asked)
    return not got or got == asked or got in MEDIA_TYPE_ALIASES.get(asked, ())


def _body_text(body: bytes, limit: int = 500) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _syntax_error(message: str, line_shift: int = 0) -> QuerySyntaxError:
    """A server's 400 message as QuerySyntaxError, locating the problem when the message does.

    >>> e = _syntax_error("error at 1:10: expected CONSTRUCT")
    >>> (e.line, e.column)
    (1, 10)
    >>> _syntax_error("Virtuoso 37000 Error SP030: SPARQL compiler, line 3: syntax error", 1).line
    2
    """
    line = column = None
    m = re.search(r"\b(\d+):(\d+)\b", message)
    if m:
        line, column = int(m.group(1)), int(m.group(2))
    else:
        m = re.search(r"\bline (\d+)", message, re.IGNORECASE)
        if m:
            line = int(m.group(1))
    if line is not None and line_shift:
        line = max(1, line - line_shift)
    return QuerySyntaxError(message or "the server refused the query as malformed", line, column)



# -- settings ------------------------------------------------------------------------------------
#: setting -> (environment variable, type)
_ENVIRONMENT = {
    "update_url": ("KG_STORE_UPDATE_URL", str), "gsp_url": ("KG_STORE_GSP_URL", str),
    "gsp_graph_param": ("KG_STORE_GSP_GRAPH_PARAM", str), "user": ("KG_STORE_USER", str),
    "password": ("KG_STORE_PASSWORD", str), "auth": ("KG_STORE_AUTH", str),
    "connect_timeout": ("KG_STORE_CONNECT_TIMEOUT", float), "read_timeout": ("KG_STORE_READ_TIMEOUT", float),
    "write_timeout": ("KG_STORE_WRITE_TIMEOUT", float), "retries": ("KG_STORE_RETRIES", int),
}


@dataclass(frozen=True)
class RemoteSettings:
    """How to reach the server (see the module docstring), read from the environment in one place.

    >>> RemoteSettings.from_environ({"KG_STORE_RETRIES": "5", "KG_STORE_AUTH": "Digest"}, backoff=0.5)
    RemoteSettings(update_url=None, gsp_url=None, gsp_graph_param='graph', user=None, auth='digest', connect_timeout=3.0, read_timeout=30.0, write_timeout=300.0, retries=5, backoff=0.5, chunk_triples=10000, version_ttl=1.0, down_grace=2.0)
    >>> RemoteSettings.from_environ({"KG_STORE_RETRIES": "many"})
    Traceback (most recent call last):
    ...
    kg_service.store.base.StoreError: KG_STORE_RETRIES='many' is not a valid int
    """

    update_url: str | None = None  # None: derived from the query URL (`derive_update_url`)
    gsp_url: str | None = None
    gsp_graph_param: str = "graph"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    auth: str | None = None  # "basic", "digest", or None: whichever the server's challenge names
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    write_timeout: float = 300.0
    retries: int = 3
    backoff: float = 0.1
    chunk_triples: int = 10_000
    version_ttl: float = 1.0
    down_grace: float = 2.0

    def __post_init__(self):
        if self.auth is not None:
            object.__setattr__(self, "auth", self.auth.lower())
        if self.auth not in (None, "basic", "digest"):
            raise StoreError("KG_STORE_AUTH must be basic or digest, not %r" % self.auth)
        object.__setattr__(self, "retries", max(0, int(self.retries)))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides) -> "RemoteSettings":
        """The ``KG_STORE_*`` variables of `environ` (default ``os.environ``); `overrides` that are
        not None win over them."""
        env = os.environ if environ is None else environ
        values = {}
        for name, (variable, cast) in _ENVIRONMENT.items():
            raw = env.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[name] = cast(raw)
            except ValueError:
                raise StoreError("%s=%r is not a valid %s" % (variable, raw, cast.__name__)) from None
        values.update((k, v) for k, v in overrides.items() if v is not None)
        return cls(**values)


# -- HTTP: requests (on urllib3) for connections, timeouts and auth --------------------------------
class _ChallengeAuth(requests.auth.AuthBase):
    """No credentials up front; a 401 is answered with Basic or Digest, whichever its challenge
    names (one extra round trip per request, as with any challenge)."""

    def __init__(self, user: str, password: str):
        self._basic = requests.auth.HTTPBasicAuth(user, password)
        self._digest = requests.auth.HTTPDigestAuth(user, password)  # answers a Digest challenge

    def __call__(self, request):
        request = self._digest(request)
        request.register_hook("response", self._answer_basic)
        return request

    def _answer_basic(self, response, **kwargs):
        challenge = response.headers.get("WWW-Authenticate", "").lower()
        if (response.status_code != 401 or not challenge.startswith("basic")
                or "Authorization" in response.request.headers):
            return response
        response.content  # read to the end, so the connection can be reused
        response.close()
        again = self._basic(response.request.copy())
        answer = response.connection.send(again, **kwargs)
        answer.history.append(response)
        answer.request = again
        return answer


def _auth(settings: RemoteSettings):
    if not settings.user:
        return None
    password = settings.password or ""
    if settings.auth == "basic":
        return requests.auth.HTTPBasicAuth(settings.user, password)
    if settings.auth == "digest":
        return requests.auth.HTTPDigestAuth(settings.user, password)
    return _ChallengeAuth(settings.user, password)


def _session(settings: RemoteSettings) -> requests.Session:
    """Kept-alive connections (opening one per request makes a small query 3-4x slower on
    loopback); requests' own retries are off: `RemoteStore._call` decides what is retried."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.auth = _auth(settings)
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"})
    return session


def _read_timed_out(e: requests.RequestException) -> bool:
    """A read timeout, before the answer (ReadTimeout) or while it streams (wrapped by requests)."""
    return isinstance(e, requests.exceptions.ReadTimeout) or any(
        isinstance(a, urllib3.exceptions.ReadTimeoutError) for a in e.args)


def _problem(e: Exception) -> str:
    """The operating system's words for a failed connection, without urllib3's wrapping."""
    m = re.search(r"\[Errno -?\d+\] [^'\")]+", str(e))
    return m.group(0) if m else type(e).__name__


class _NotFound(StoreError):
    """The server answered 404: no service at the URL, or (to a Graph Store DELETE) no such graph."""


class _Dataset(NamedTuple):
    """What the server holds of ours: the build's version ("" when none) and its graphs (None then)."""
    version: str
    graphs: tuple[str, ...] | None
    read_at: float


class _Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str]


# -- the store -----------------------------------------------------------------------------------
class RemoteStore(Store):
    """Any SPARQL 1.1 server, reached over HTTP; read-only unless building.

    Nothing is contacted until the first call, so a store can be opened while its server is down.
    `settings` default to those of `environ` (`RemoteSettings.from_environ`: the served store passes
    the app's KG_STORE_*, `kg_service.config.store_environ`; without it, the process environment's);
    `timeout` is the interface's read timeout for a query, over the settings' one.

    >>> s = RemoteStore("http://127.0.0.1:7878/query", settings=RemoteSettings(
    ...                 user="amlkg", password="secret", auth="digest"))
    >>> s.update_url, s.gsp_url
    ('http://127.0.0.1:7878/update', None)
    >>> s
    RemoteStore('http://127.0.0.1:7878/query', update='http://127.0.0.1:7878/update', gsp=None, user='amlkg', auth='digest', read_only=True)
    """

    poisoned = False  # a cut query is abandoned on the server's side; the worker stays healthy

    def __init__(self, url: str, *, read_only: bool = True, timeout: float | None = None,
                 settings: RemoteSettings | None = None, environ: Mapping[str, str] | None = None):
        if not url.startswith(("http://", "https://")):
            raise StoreError("not an http(s) URL: %r" % url)
        self.settings = settings = settings or RemoteSettings.from_environ(environ)
        self.url = url
        self.read_only = read_only
        self.update_url = settings.update_url or derive_update_url(url)
        self.gsp_url = settings.gsp_url
        self.default_timeout = settings.read_timeout if timeout is None else float(timeout)
        self._down_until = 0.0
        self._dataset: _Dataset | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._session_pid: tuple[int, requests.Session] | None = None

    def __repr__(self) -> str:
        return "RemoteStore(%r, update=%r, gsp=%r, user=%r, auth=%r, read_only=%r)" % (
            self.url, self.update_url, self.gsp_url, self.settings.user, self.settings.auth, self.read_only)

    @property
    def location(self) -> str:
        return self.url

    # -- HTTP --------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        """This process's session (a socket is never shared across a fork); threads share it."""
        known = self._session_pid
        if known is None or known[0] != os.getpid():
            with self._lock:
                known = self._session_pid
                if known is None or known[0] != os.getpid():
                    known = self._session_pid = (os.getpid(), _session(self.settings))
        return known[1]

    def _send(self, method: str, url: str, data: bytes | None, headers: dict, timeout: float) -> _Reply:
        """One exchange, its answer read to the end within `timeout` (the connection then goes
        back to the pool; an answer cut short closes it)."""
        deadline = time.monotonic() + timeout
        response = self._session().request(method, url, data=data, headers=headers, stream=True,
                                           timeout=(self.settings.connect_timeout, timeout))
        try:
            chunks = []
            for chunk in response.iter_content(_READ_CHUNK):  # gzip decoded
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise QueryTimeout("answer still arriving after %.1f s: cut" % timeout, timeout)
        except BaseException:
            response.close()
            raise
        return _Reply(response.status_code, _media_essence(response.headers.get("Content-Type")),
                      b"".join(chunks), response.headers)

    def _call(self, method: str, url: str, *, data: bytes | None = None, headers: dict, timeout: float,
              what: str, form: str | None = None, write: bool = False, line_shift: int = 0) -> _Reply:
        """Send one request, retrying what a restarting server causes.

        Every request this store sends is idempotent (a query, a PUT, a DROP SILENT, an INSERT DATA
        of a set), so a refused or dropped connection and 502/503/504 are retried with exponential
        backoff; a read timeout is not (a slow query stays slow).
        """
        if self._closed:
            raise StoreError("the store is closed")
        settings = self.settings
        attempts = 1 + (settings.retries if time.monotonic() >= self._down_until else 0)
        delay, retry_after, problem = settings.backoff, None, ""
        for attempt in range(attempts):
            if attempt:
                log.debug("%s: retry %d after %.2f s (%s)", what, attempt, delay, problem)
                time.sleep(delay)
                delay *= 2
            try:
                reply = self._send(method, url, data, headers, timeout)
            except requests.exceptions.ContentDecodingError as e:
                raise StoreError("unreadable gzip answer from %s: %s" % (url, e)) from None
            except requests.exceptions.SSLError as e:
                raise StoreError("%s: cannot reach %s: %s" % (what, url, e)) from None
            except requests.RequestException as e:
                if _read_timed_out(e):
                    self._down_until = 0.0
                    raise QueryTimeout("%s: no answer from %s within %.1f s" % (what, url, timeout), timeout) from None
                if not isinstance(e, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
                    raise StoreError("%s: cannot reach %s: %s" % (what, url, e)) from None
                problem = _problem(e)  # refused, reset, dropped mid-answer, no connection in time
                continue
            if reply.status in RETRY_STATUS:
                problem = "HTTP %d" % reply.status
                retry_after = _retry_after(reply.headers) or retry_after
                continue
            self._down_until = 0.0
            if reply.status >= 400:
                raise self._http_error(reply.status, reply.body, reply.headers, what, form, write, line_shift)
            return reply
        self._down_until = time.monotonic() + settings.down_grace
        log.warning("%s: SPARQL server unavailable (%s)", what, problem)
        raise StoreUnavailable("the SPARQL server at %s is unavailable (%s)" % (url.split("?", 1)[0], problem),
                               retry_after=retry_after or 5)

    def _http_error(self, code, body, headers, what, form, write, line_shift) -> Exception:
        text = _body_text(body)
        if code == 400:
            if write:
                return StoreError("%s: the server refused the data (HTTP 400): %s" % (what, text))
            return _syntax_error(text, line_shift)
        if code in (401, 403):
            return StoreError("%s: the server refused access (HTTP %d): set KG_STORE_USER, "
                              "KG_STORE_PASSWORD and, if needed, KG_STORE_AUTH" % (what, code))
        if code == 404:
            return _NotFound("%s: no SPARQL service at this URL (HTTP 404)" % what)
        if code in (406, 415) and form:
            return QuerySyntaxError("not a %s query (the server cannot answer it as one)" % form)
        if code == 429:
            return StoreUnavailable("%s: the server asks to slow down (HTTP 429)" % what,
                                    retry_after=_retry_after(headers) or 5)
        if _TIMEOUT_TEXT.search(text):
            return QueryTimeout("%s: cut by the server: %s" % (what, text))
        return StoreError("%s failed: HTTP %d: %s" % (what, code, text))

    def _query(self, text: str, accept: str, *, timeout: float | None, what: str,
               form: str | None = None, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, line_shift: int = 0,
               ours: bool = True) -> _Reply:
        """Send one query. Unless the caller gives a dataset (or `ours` is off, for the queries that
        find the dataset), it is our graphs: the union of them as the default graph, each of them as a
        named graph, as the embedded store has it, whatever the server's own default graph is."""
        if ours and default_graphs is None and named_graphs is None:
            default_graphs = named_graphs = self._dataset_now().graphs
        fields = [("query", text)]
        fields += [("default-graph-uri", g) for g in default_graphs or ()]
        fields += [("named-graph-uri", g) for g in named_graphs or ()]
        data = urllib.parse.urlencode(fields).encode()

        def send():
            return self._call("POST", self.url, data=data, headers={"Content-Type": FORM, "Accept": accept},
                              timeout=timeout or self.default_timeout, what=what, form=form,
                              line_shift=line_shift)
        gate = self.gate
        if gate is None:
            return send()
        gate.acquire()  # raises Overloaded when every slot stays busy
        try:
            return send()
        finally:
            gate.release()

    # -- queries -----------------------------------------------------------------------------
    def select(self, query, bindings=None, *, timeout=None):
        """Rows of a SELECT as dicts of rdflib terms (unbound variables are left out)."""
        return self._select(bind_values(query, bindings), timeout=timeout)

    def _select(self, query: str, *, timeout=None, ours: bool = True):
        reply = self._query(query, SELECT_ACCEPT, timeout=timeout, what="SELECT", form="SELECT",
                            ours=ours)
        doc = _json(reply, "SELECT")
        try:
            names = doc["head"].get("vars") or []
            bindings_ = doc["results"]["bindings"]
        except (KeyError, TypeError, AttributeError):
            raise QuerySyntaxError("not a SELECT query") from None
        rows = []
        for b in bindings_:
            row = {n: term_from_json(b[n]) for n in names if n in b}
            if len(row) < len(b):  # a server that leaves variables out of the head
                row.update((n, term_from_json(v)) for n, v in b.items() if n not in row)
            rows.append(row)
        return rows

    def ask(self, query, bindings=None, *, timeout=None):
        """True when the ASK pattern matches."""
        reply = self._query(bind_values(query, bindings), ASK_ACCEPT, timeout=timeout,
                            what="ASK", form="ASK")
        doc = _json(reply, "ASK")
        answer = doc.get("boolean") if isinstance(doc, dict) else None
        if isinstance(answer, str):  # some servers quote it
            answer = {"true": True, "1": True, "false": False, "0": False}.get(answer.lower())
        if not isinstance(answer, bool):
            raise QuerySyntaxError("not an ASK query")
        return answer

    def construct(self, query, bindings=None, *, timeout=None):
        """The triples of a CONSTRUCT or DESCRIBE as an rdflib graph."""
        reply = self._query(bind_values(query, bindings), CONSTRUCT_ACCEPT, timeout=timeout,
                            what="CONSTRUCT", form="CONSTRUCT or DESCRIBE")
        fmt = (ox.RdfFormat.N_TRIPLES if reply.content_type == "text/plain"
               else ox.RdfFormat.from_media_type(reply.content_type))
        if fmt is None:
            if "sparql-results" in reply.content_type:
                raise QuerySyntaxError("not a CONSTRUCT or DESCRIBE query")
            raise StoreError("the server answered a CONSTRUCT in %r" % reply.content_type)
        g = rdflib.Graph()
        try:
            for q in ox.parse(reply.body, format=fmt):
                g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
        except SyntaxError as e:
            raise StoreError("unreadable CONSTRUCT answer: %s" % e) from None
        return g

    def raw(self, query, media_type, *, default_graphs=None, named_graphs=None, base_iri=None,
            timeout=None):
        """Forward any query form and return the server's answer in `media_type`, unchanged."""
        shift = 0
        if base_iri:
            query = "BASE %s\n%s" % (term_to_sparql(URIRef(base_iri)), query)
            shift = 1
        reply = self._query(query, media_type, timeout=timeout, what="query",
                            default_graphs=default_graphs, named_graphs=named_graphs,
                            line_shift=shift)
        if not _answers_as(media_type, reply.content_type):
            raise StoreError("the server answered in %s instead of %s" % (reply.content_type, media_type))
        return reply.body

    # -- writing -----------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError("the store is open read-only")

    def _update(self, text: str, what: str) -> None:
        data = urllib.parse.urlencode({"update": text}).encode()
        self._call("POST", self.update_url, data=data, headers={"Content-Type": FORM, "Accept": "*/*"},
                   timeout=self.settings.write_timeout, what=what, write=True)

    def _gsp(self, method: str, graph_iri: str, body: bytes | None = None) -> None:
        sep = "&" if "?" in self.gsp_url else "?"
        url = self.gsp_url + sep + urllib.parse.urlencode({self.settings.gsp_graph_param: graph_iri})
        headers = {"Accept": "*/*"}
        if body is not None:
            headers["Content-Type"] = "text/turtle"  # N-Triples is Turtle; every GSP server reads it
        try:
            self._call(method, url, data=body, headers=headers, timeout=self.settings.write_timeout,
                       what="%s <%s>" % (method, graph_iri), write=True)
        except _NotFound:
            if method == "DELETE":
                return  # already absent
            raise

    def replace_graph(self, graph_iri: str, ntriples: bytes) -> None:
        """Replace one named graph whole: a Graph Store PUT, or DROP + INSERT DATA in chunks.

        Over SPARQL Update a graph of up to `chunk_triples` triples (or any graph with blank nodes,
        whose labels only hold within one request) goes in one request; a bigger one in several,
        so readers may briefly see it partly loaded (`publish` writes the version last). A PUT
        replaces the graph in one step on servers that make it a transaction (Oxigraph does).
        """
        self._check_writable()
        term_to_sparql(URIRef(graph_iri))  # refuses IRIs that could break out of <…>
        if self.gsp_url:
            if ntriples.strip():
                self._gsp("PUT", graph_iri, ntriples)
            else:
                self._gsp("DELETE", graph_iri)
            return
        for n, text in enumerate(_update_requests(graph_iri, ntriples, self.settings.chunk_triples)):
            self._update(text, "update <%s> (part %d)" % (graph_iri, n + 1))

    def publish(self, graphs: Mapping[str, bytes], version: str, manifest: dict | None = None) -> str:
        """Load each graph whole, drop our graphs that are gone, then write the version triple last,
        so a reader sees the new version only once every graph is in. Returns the query URL.
        (A server keeps no files of ours: the release manifest stays beside the release dumps.)

        Only graphs under ``GRAPH_BASE`` are ever dropped: other data on a shared server is left alone.
        """
        self._check_writable()
        for iri, data in graphs.items():
            if iri != META_GRAPH:
                self.replace_graph(iri, data)
        keep = set(graphs) | {META_GRAPH}
        for iri in self.named_graphs():
            if iri.startswith(GRAPH_BASE) and iri not in keep:
                self.replace_graph(iri, b"")
        version_line = "%s <%s> %s .\n" % (term_to_sparql(URIRef(META_GRAPH)), VERSION_PREDICATE,
                                           term_to_sparql(str(version)))
        meta = graphs.get(META_GRAPH, b"").rstrip()
        self.replace_graph(META_GRAPH, (meta + b"\n" if meta else b"") + version_line.encode())
        self._dataset = None  # read back from the meta graph just written
        return self.url

    # -- facts -------------------------------------------------------------------------------
    def named_graphs(self) -> list[str]:
        """IRIs of the graphs on the server (on a shared server, other data's graphs too)."""
        rows = [r for r in self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", ours=False) if "g" in r]
        if not rows:  # Virtuoso binds no graph to an empty pattern: look at the triples
            rows = self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", ours=False)
        return sorted(str(r["g"]) for r in rows if isinstance(r.get("g"), URIRef))

    def triple_count(self) -> int:
        """Triples in our graphs (other data on a shared server is not counted)."""
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(rows[0]["n"]) if rows else 0

    def _dataset_now(self) -> "_Dataset":
        """The last build's version and our graphs (those under GRAPH_BASE: what `publish` writes and
        replaces), the version re-read after `version_ttl` seconds (other processes see a new
        version within it) and the graphs listed again when it changed."""
        known = self._dataset
        now = time.monotonic()
        if known is not None and now - known.read_at < self.settings.version_ttl:
            return known
        rows = self._select(store_query("graph-version"), ours=False)
        version = str(rows[0]["v"]) if rows else ""
        if known is not None and known.version == version:
            graphs = known.graphs
        elif version:
            graphs = tuple(g for g in self.named_graphs() if g.startswith(GRAPH_BASE))
        else:
            graphs = None  # nothing of ours: the server's own dataset (and `serve` refuses it)
        known = self._dataset = _Dataset(version, graphs, now)
        return known

    def graph_version(self) -> str:
        """The last build's version ("" when the server holds none)."""
        return self._dataset_now().version

    def known_version(self) -> str | None:
        """The version read within the last `version_ttl` seconds, else None (it must be read again)."""
        known = self._dataset
        if known is None or time.monotonic() - known.read_at >= self.settings.version_ttl:
            return None
        return known.version

    def check_dataset(self) -> None:
        """Raise DatasetMissing unless the server holds a build of ours: a recorded version and every
        graph the build's meta graph lists (`serve` refuses to start otherwise)."""
        self._dataset = None
        known = self._dataset_now()
        fix = "build into it with `python -m kg_service build --store %s`" % self.url
        if not known.version:
            raise DatasetMissing("the SPARQL server at %s holds no amlkg build (no graph version in <%s>): %s"
                                 % (self.url, META_GRAPH, fix))
        listed = {str(r["graph"]) for r in self._select(store_query("listed-graphs"), ours=False)}
        missing = sorted(listed - set(known.graphs))
        if missing:
            raise DatasetMissing("the SPARQL server at %s lacks %d of the graphs its build lists (%s): %s"
                                 % (self.url, len(missing), ", ".join("<%s>" % g for g in missing[:3]), fix))

    def refresh(self) -> bool:
        """Read the version again on the next call (the served store calls this periodically); the
        graphs are listed again only if it changed."""
        known = self._dataset
        if known is not None:
            self._dataset = known._replace(read_at=float("-inf"))
        return False

    def close(self) -> None:
        self._closed = True
        known = self._session_pid
        if known is not None and known[0] == os.getpid():
            known[1].close()


def _update_requests(graph_iri: str, ntriples: bytes, chunk: int) -> Iterator[str]:
    """SPARQL Update texts that replace `graph_iri` with `ntriples`, re-serialised term by term
    (so the data cannot change the update's shape) and split into chunks of `chunk` triples.

    >>> list(_update_requests("urn:g", b'<urn:a> <urn:p> "x} }" .\\n<urn:a> <urn:p> "y" .\\n', 1))
    ['DROP SILENT GRAPH <urn:g> ;\\nINSERT DATA { GRAPH <urn:g> {\\n<urn:a> <urn:p> "x} }" .\\n} }', 'INSERT DATA { GRAPH <urn:g> {\\n<urn:a> <urn:p> "y" .\\n} }']
    >>> list(_update_requests("urn:g", b'_:r <urn:p> <urn:o> .\\n<urn:s> <urn:q> _:r .\\n', 1))
    ['DROP SILENT GRAPH <urn:g> ;\\nINSERT { GRAPH <urn:g> {\\n_:r <urn:p> <urn:o> .\\n<urn:s> <urn:q> _:r .\\n} } WHERE { }']
    >>> list(_update_requests("urn:g", b"", 1))
    ['DROP SILENT GRAPH <urn:g>']
    """
    g = term_to_sparql(URIRef(graph_iri))
    lines, blank = [], False
    try:
        for q in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES):
            blank = blank or isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode)
            lines.append(str(q.triple) + " .")
    except SyntaxError as e:
        raise StoreError("not valid N-Triples for <%s>: %s" % (graph_iri, e)) from None
    if not lines:
        yield "DROP SILENT GRAPH %s" % g
        return
    # blank nodes: one request, and a template (INSERT … WHERE {}) rather than INSERT DATA, which
    # Virtuoso refuses them in; a label means the same node throughout one template
    size, insert, where = (len(lines), "INSERT", " WHERE { }") if blank else (max(1, chunk), "INSERT DATA", "")
    for i in range(0, len(lines), size):
        head = "DROP SILENT GRAPH %s ;\n" % g if i == 0 else ""
        yield "%s%s { GRAPH %s {\n%s\n} }%s" % (head, insert, g, "\n".join(lines[i:i + size]), where)


def _json(reply: _Reply, form: str):
    if "json" not in reply.content_type:
        raise QuerySyntaxError("not a %s query (the server answered %s)" % (form, reply.content_type or "?"))
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError as e:
        raise StoreError("unreadable %s answer: %s" % (form, e)) from None

def _retry_after(headers) -> int | None:
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    return int(value) if value.isdigit() else None


__all__ = ["RemoteStore", "RemoteSettings", "derive_update_url", "term_from_json"]
