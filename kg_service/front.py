"""The worker's front: a small ASGI layer between granian and the Flask (WSGI) app.

Why it exists: a WSGI server hands the app a request whose body is still arriving, so a client that
announces 1,000 bytes and sends 7 holds a request thread (and every route behind it) for as long as
it likes. Here the body is read by the event loop first, whole, within ``KG_REQUEST_READ_TIMEOUT``
seconds (408 otherwise) and within ``KG_MAX_BODY_BYTES`` (413 otherwise); only a complete request
is given to a thread of the app's pool. A stalled upload then holds a coroutine, never a thread and
never a slot of the query gate (`kg_service.limits.QueryGate`), so `/health` and queries keep flowing.
A GET whose answer is at hand (a cached SPARQL answer, found without waiting: `at_hand`) is answered
on the event loop itself, through the same WSGI app: the hand-over to a thread and back would cost
more than the answer.

It also refuses request targets (path and query string) longer than ``KG_MAX_URL_BYTES`` (at most
`URL_LIMIT_CEILING`) with a logged problem+json 414: the HTTP server itself refuses targets above
`SERVER_MAX_TARGET` with an empty, unlogged 414 before any Python runs, so ours must answer below
that. A longer SPARQL query goes by POST (up to ``KG_MAX_QUERY_BYTES``).

And it ends the worker process with ``os._exit`` when granian has stopped it (ASGI lifespan shutdown,
after the in-flight answers are sent): a runaway query evaluation, which pyoxigraph cannot
interrupt, must not hold the exit.
"""
from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

import orjson

from .server import leave, worker_ready

#: the longest request target (path and query string) granian's HTTP/1 parser (hyper) accepts; a
#: longer one is answered 414 with an empty body by the server itself, before any Python runs
SERVER_MAX_TARGET = 65_534
#: the highest our own limit (KG_MAX_URL_BYTES) may be: below the server's, so that a target just over
#: our limit gets our problem+json 414 (logged) rather than the server's empty one
URL_LIMIT_CEILING = 65_000
#: most bytes of a refused (413) body read and dropped so the client sees the answer
DRAIN_CAP = 16 * 1024 * 1024
_NO_BODY = frozenset((b"GET", b"HEAD", b"OPTIONS", b"DELETE"))
#: the environment variable `serve` sets to the number of request threads per worker
ENV_THREADS = "AMLKG_THREADS"


class _Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, kind: str, **extra):
        super().__init__(detail)
        self.status, self.title, self.detail, self.kind, self.extra = status, title, detail, kind, extra


def effective_url_limit(configured: int) -> int:
    """Our request-target limit: the configured one, never above `URL_LIMIT_CEILING`.

    >>> effective_url_limit(200_000), effective_url_limit(1000)
    (65000, 1000)
    """
    return max(1, min(int(configured), URL_LIMIT_CEILING))


class Front:
    """ASGI application wrapping a WSGI app: whole bodies first, then a thread of `threads`."""

    def __init__(self, wsgi_app, *, threads: int, read_timeout: float, max_body: int, max_target: int):
        self.wsgi_app = wsgi_app
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="amlkg-request")
        self.read_timeout = float(read_timeout)
        self.max_body = int(max_body)
        self.max_target = effective_url_limit(max_target)
        self.log = None  # the request log's writer: the front's own refusals are logged too
        self.warm = None  # called on a request thread before the worker reports it has started
        #: environ -> bool: the answer is at hand without waiting (a cached SPARQL answer); such a
        #: request is run on the event loop, saving the hand-over to a thread and back (about half
        #: the cost of a cached answer), see `kg_service.sparql.protocol.CachedAnswers`
        self.at_hand = None

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.warm is not None:
                    await asyncio.get_running_loop().run_in_executor(self.pool, self.warm)
                worker_ready()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                leave(0)  # granian has stopped serving and sent the in-flight answers

    async def _http(self, scope, receive, send):
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string") or b""
        headers = scope.get("headers") or []
        started = time.perf_counter()
        try:
            target = len(raw_path) + (len(query) + 1 if query else 0)
            if target > self.max_target:
                raise _Refused(414, "URI Too Long", "The request target is %d bytes; this server accepts at "
                               "most %d (send a long SPARQL query by POST)." % (target, self.max_target),
                               "uri-too-long", max_url_bytes=self.max_target)
            body = await self._read_body(scope, headers, receive)
        except _Refused as refused:
            await _send_problem(send, refused)
            if self.log is not None:
                self.log.emit({"REQUEST_METHOD": scope["method"], "PATH_INFO": scope["path"],
                               "QUERY_STRING": query.decode("latin-1")}, refused.status, started)
            return
        except _Gone:
            return
        environ = _environ(scope, raw_path, query, headers, body)
        if not body and self._answer_at_hand(environ):
            status, response_headers, chunks = _call_wsgi(self.wsgi_app, environ)
        else:
            loop = asyncio.get_running_loop()
            status, response_headers, chunks = await loop.run_in_executor(self.pool, _call_wsgi, self.wsgi_app,
                                                                          environ)
        try:
            await send({"type": "http.response.start", "status": status, "headers": response_headers})
            await send({"type": "http.response.body", "body": b"".join(chunks)})
        except Exception:  # noqa: BLE001 - the client went away; nothing left to answer
            pass

    def _answer_at_hand(self, environ) -> bool:
        """Whether this request's answer is at hand (see `at_hand`); any fault there sends the request
        to a thread, where the app answers (and reports) it."""
        if self.at_hand is None:
            return False
        try:
            return bool(self.at_hand(environ))
        except Exception:  # noqa: BLE001
            return False

    async def _read_body(self, scope, headers, receive) -> bytes:
        """The whole body within the read timeout and the size limit, else a `_Refused`."""
        length = chunked = None
        for name, value in headers:
            if name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                chunked = value
        if length is None and chunked is None and scope["method"].encode() in _NO_BODY:
            return b""
        if length == -1:
            raise _Refused(400, "Bad Request", "The Content-Length header is not a number.", "bad-request")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        too_large = length is not None and length > self.max_body
        body = bytearray()
        received = 0
        more = True
        while more:
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise asyncio.TimeoutError
                message = await asyncio.wait_for(receive(), left)
            except asyncio.TimeoutError:
                raise _Refused(408, "Request Timeout", "The request body did not arrive within %g s (%d of %s "
                               "bytes received)." % (self.read_timeout, received,
                                                     length if length is not None else "?"),
                               "request-timeout", read_timeout_seconds=self.read_timeout) from None
            if message["type"] == "http.disconnect":
                raise _Gone()
            chunk = message.get("body") or b""
            received += len(chunk)
            more = bool(message.get("more_body"))
            if received > self.max_body:
                too_large = True
            if too_large:
                if received > DRAIN_CAP:
                    break
                continue  # read and drop the rest, so the client reliably gets the 413
            body += chunk
        if too_large:
            size = length if length is not None and length > self.max_body else received
            raise _Refused(413, "Payload Too Large", "The request body is %s bytes; this service accepts at "
                           "most %d." % (size if length is not None else "more than %d" % self.max_body,
                                         self.max_body), "payload-too-large", max_body_bytes=self.max_body)
        return bytes(body)


class _Gone(Exception):
    """The client disconnected before its request was complete."""


def _environ(scope, raw_path: bytes, query: bytes, headers, body: bytes) -> dict:
    """The PEP 3333 environ of a complete request."""
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "SERVER_PROTOCOL": "HTTP/%s" % scope.get("http_version", "1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body or scope["method"] not in ("GET", "HEAD"):
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole now: its length is the one above
        text = value.decode("latin-1")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = text
            continue
        key = "HTTP_" + key
        environ[key] = environ[key] + "," + text if key in environ else text
    return environ


def _call_wsgi(app, environ):
    """Run the WSGI app (on a pool thread, or on the loop for an answer at hand): (status, ASGI
    headers, body chunks)."""
    started = []
    written = []

    def start_response(status, headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return written.append

    result = app(environ, start_response)
    try:
        chunks = written + [chunk for chunk in result if chunk]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    return (int(status[:3]),
            [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            chunks)


async def _send_problem(send, refused: _Refused) -> None:
    """A problem+json answer of the front itself (the connection is closed after it)."""
    from .errors import PROBLEM_TYPE_BASE
    body = orjson.dumps({"type": PROBLEM_TYPE_BASE + refused.kind, "title": refused.title,
                         "status": refused.status, "detail": refused.detail, **refused.extra})
    try:
        await send({"type": "http.response.start", "status": refused.status, "headers": [
            (b"content-type", b"application/problem+json"), (b"content-length", b"%d" % len(body)),
            (b"x-content-type-options", b"nosniff"), (b"access-control-allow-origin", b"*"),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
    except Exception:  # noqa: BLE001 - the client went away
        pass


def create_front():
    """granian's factory in each worker: the Flask app behind the front, with the app's settings."""
    from . import create_app, services
    app = create_app()
    config = app.config
    front = Front(app, threads=int(os.environ.get(ENV_THREADS) or 8),
                  read_timeout=float(config["KG_REQUEST_READ_TIMEOUT"]),
                  max_body=int(config["KG_MAX_BODY_BYTES"]), max_target=int(config["KG_MAX_URL_BYTES"]))
    from .request_log import get_writer
    front.log = get_writer(app)
    services.keep_snapshots_out_of_collector(app)

    def warm():
        gc.collect()  # the start-up's garbage, before the snapshot's build freezes what is left
        services.warm(app)
    front.warm = warm
    cached = app.extensions.get("amlkg_cached_answers")
    front.at_hand = cached.answer_at_hand if cached is not None else None
    return front
