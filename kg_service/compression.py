"""gzip and deflate for every answer worth it: a WSGI middleware around the whole app.

It wraps the app outside the SPARQL fast paths (cached and direct GETs, kg_service/sparql), so
SPARQL results, graph answers, downloads, API JSON and pages are all covered, when the client asks
(`Accept-Encoding`) and the body is of a textual type and at least `min_size` bytes. Smaller
answers pass untouched (a header check, no copy).

Validators stay right: a compressed representation is a different one, so its ETag gets the
coding as a suffix (`"v-abc"` -> `"v-abc-gzip"`, as Apache's mod_deflate does), and `Vary:
Accept-Encoding` is set on every answer to a client that sends Accept-Encoding and that is (or
for another client would be) compressed. A request without Accept-Encoding passes straight
through (identity, no Vary: that answer suits any client a shared cache may give it to). An `If-None-Match` carrying such
a tag is handed to the app without the suffix, so the app's 304 logic sees its own tag; the 304
then carries the tag the client holds. Compressed bodies are remembered (keyed on the body
object, which the answer caches hand out again) so a repeated answer is not compressed again.
"""
from __future__ import annotations

import gzip
import threading
import zlib
from collections import OrderedDict
from functools import lru_cache

#: media types (before any `;`) worth compressing besides text/*
COMPRESSIBLE = frozenset((
    "application/json", "application/problem+json", "application/ld+json", "application/sparql-results+json",
    "application/sparql-results+xml", "application/xml", "application/rdf+xml", "application/n-triples",
    "application/n-quads", "application/trig", "application/javascript", "image/svg+xml",
    "application/xhtml+xml"))
CODINGS = ("gzip", "deflate")
SUFFIXES = tuple("-" + c for c in CODINGS)


@lru_cache(maxsize=256)
def choose_coding(header: str | None) -> str | None:
    """The content coding to answer in for an Accept-Encoding header (gzip preferred), or None.

    >>> choose_coding("gzip, deflate, br"), choose_coding("deflate"), choose_coding("gzip;q=0, deflate;q=0.5")
    ('gzip', 'deflate', 'deflate')
    >>> choose_coding("identity"), choose_coding(None), choose_coding("*"), choose_coding("x-gzip")
    (None, None, 'gzip', 'gzip')
    """
    if not header:
        return None
    q_of: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if name == "x-gzip":
            name = "gzip"
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            q_of[name] = max(q, q_of.get(name, 0.0))
    best, best_q = None, 0.0
    for coding in CODINGS:
        q = q_of.get(coding, q_of.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


def compressible(content_type: str | None) -> bool:
    """Whether a Content-Type is textual enough to compress.

    >>> compressible("text/csv; charset=utf-8"), compressible("application/n-quads"), compressible("image/png")
    (True, True, False)
    """
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in COMPRESSIBLE


def encode(body: bytes, coding: str, level: int = 6) -> bytes:
    """`body` in `coding` (gzip without a timestamp, so equal bodies give equal bytes).

    >>> import gzip, zlib
    >>> gzip.decompress(encode(b"x" * 100, "gzip")) == b"x" * 100, zlib.decompress(encode(b"y" * 10, "deflate"))
    (True, b'yyyyyyyyyy')
    >>> encode(b"z" * 100, "gzip") == encode(b"z" * 100, "gzip")
    True
    """
    if coding == "gzip":
        return gzip.compress(body, compresslevel=level, mtime=0)
    return zlib.compress(body, level)


def strip_coding_suffixes(header: str) -> str:
    """An If-None-Match header with our coding suffixes taken off its tags.

    >>> strip_coding_suffixes('"v-1-gzip", W/"v-2-deflate", "v-3"')
    '"v-1", W/"v-2", "v-3"'
    """
    for suffix in SUFFIXES:
        header = header.replace(suffix + '"', '"')
    return header


def tagged(etag: str, coding: str) -> str:
    """The ETag of the `coding` representation of a body tagged `etag`.

    >>> tagged('"v-1"', "gzip"), tagged('W/"v-1"', "deflate")
    ('"v-1-gzip"', 'W/"v-1-deflate"')
    """
    return etag[:-1] + "-" + coding + '"' if etag.endswith('"') else etag


class _Encoded:
    """A small LRU of compressed bodies, keyed on (coding, body): bytes hash once and are compared by
    identity first, so a cached answer handed out again costs a dictionary lookup."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024):
        self.max_bytes, self.size = max_bytes, 0
        self._items: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, coding: str, body: bytes, level: int) -> bytes:
        key = (coding, body)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        out = encode(body, coding, level)
        with self._lock:
            if key not in self._items and len(body) + len(out) < self.max_bytes // 4:
                self._items[key] = out
                self.size += len(body) + len(out)
                while self.size > self.max_bytes and self._items:
                    (_, old), enc = self._items.popitem(last=False)
                    self.size -= len(old) + len(enc)
        return out


def _no_write(data) -> None:
    """The write() callable of start_response: none of our layers uses it."""


class Compression:
    """WSGI middleware: compress answers the client accepts compressed (see the module docstring)."""

    def __init__(self, wsgi_app, *, min_size: int = 1024, level: int = 6, max_size: int = 64 * 1024 * 1024):
        self.wsgi_app, self.min_size, self.level, self.max_size = wsgi_app, min_size, level, max_size
        self.encoded = _Encoded()

    def __call__(self, environ, start_response):
        held = environ.get("HTTP_IF_NONE_MATCH")
        if held is not None:
            if '-gzip"' in held or '-deflate"' in held:
                environ["HTTP_IF_NONE_MATCH"] = strip_coding_suffixes(held)
            else:
                held = None
        if held is None and "HTTP_ACCEPT_ENCODING" not in environ:
            # a client that says nothing of codings (curl, urllib, SPARQLWrapper) gets identity, and the
            # layer costs nothing: no Vary either, as identity suits every client a cache may hand it to
            return self.wsgi_app(environ, start_response)
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers, exc_info]
            return _no_write

        app_iter = self.wsgi_app(environ, capture)
        if not captured:  # a lazy app: run it to its start_response
            app_iter = list(app_iter)
        status, headers, exc_info = captured
        if held is None:  # the fast path: a small answer is passed on as it is (no Vary: it never varies)
            for name, value in headers:  # (our layers spell it so; any other spelling takes the full path)
                if name == "Content-Length":
                    if len(value) < 5 and int(value) < self.min_size:
                        start_response(status, headers, exc_info)
                        return app_iter
                    break
        coding = choose_coding(environ.get("HTTP_ACCEPT_ENCODING"))
        if environ.get("REQUEST_METHOD") == "HEAD":
            coding = None  # the app's Content-Length is that of the identity body
        ctype = length = encoding = etag = None
        for name, value in headers:
            lname = name.lower()
            if lname == "content-type":
                ctype = value
            elif lname == "content-length":
                length = value
            elif lname == "content-encoding":
                encoding = value
            elif lname == "etag":
                etag = value
        if encoding is not None or (ctype is not None and not compressible(ctype)):
            start_response(status, headers, exc_info)
            return app_iter
        if status.startswith("304"):
            if held and etag:  # the client holds a compressed copy: confirm that tag
                for c in CODINGS:
                    if tagged(etag, c) in held:
                        headers = _add_vary([(k, tagged(v, c) if k.lower() == "etag" else v) for k, v in headers])
                        break
            start_response(status, headers, exc_info)
            return app_iter
        if not status.startswith("200") or ctype is None:
            start_response(status, headers, exc_info)
            return app_iter
        big = length is None or self.min_size <= int(length) <= self.max_size
        if coding is None or not big:
            # an answer this size could be compressed for another client: caches must know
            start_response(status, _add_vary(headers) if big and length is not None else headers, exc_info)
            return app_iter
        body = _collect(app_iter)
        if len(body) < self.min_size:
            start_response(status, _replace_length(headers, len(body)), exc_info)
            return [body]
        out = self.encoded.get(coding, body, self.level)
        headers = [(k, tagged(v, coding) if k.lower() == "etag" else v) for k, v in _add_vary(headers)
                   if k.lower() != "content-length"]
        headers += [("Content-Encoding", coding), ("Content-Length", str(len(out)))]
        start_response(status, headers, exc_info)
        return [out]


def _collect(app_iter) -> bytes:
    try:
        if isinstance(app_iter, list) and len(app_iter) == 1:
            return bytes(app_iter[0])
        return b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()


def _add_vary(headers: list) -> list:
    out, found = [], False
    for name, value in headers:
        if name.lower() == "vary":
            found = True
            if "accept-encoding" not in value.lower() and value.strip() != "*":
                value = value + ", Accept-Encoding"
        out.append((name, value))
    if not found:
        out.append(("Vary", "Accept-Encoding"))
    return out


def _replace_length(headers: list, length: int) -> list:
    return [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(length))]


def init_app(app, min_size: int = 1024) -> None:
    """Install the middleware around the app's WSGI callable (outside the SPARQL fast paths)."""
    app.wsgi_app = Compression(app.wsgi_app, min_size=min_size)
