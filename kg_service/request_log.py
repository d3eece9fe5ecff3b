"""Structured request log: one JSON line per request, written outside everything else (cached answers
included), on stderr by default.

A line holds what an operator needs and nothing a client sent as content::

    {"event":"request","t":1718000000.123,"method":"GET","path":"/sparql","status":200,
     "duration_ms":0.412,"query_hash":"9c1f0a7e5d3b2a10","cache":"hit","pid":4242}

Never logged: the query text, the URL's query string, bodies, headers (so no ``Authorization``),
cookies. ``query_hash`` identifies a request's content without revealing it: a keyed BLAKE2b of the
SPARQL text (``/sparql``) or of the raw query string (other routes), keyed with ``KG_LOG_HASH_KEY``
so that low-entropy inputs (a patient profile in a URL) cannot be recovered by guessing. ``serve``
draws one random key per start for all its workers when the setting is empty;
`query_hash(text, key)` computes the same hash offline for a known query.

``KG_REQUEST_LOG``: ``stderr`` (default; ``off`` for Flask test apps unless set in the environment),
``stdout``, a file path (appended to), or ``off``. A line
is written with one ``write()`` (atomic for lines under PIPE_BUF), and a failing log never fails a
request. The cost is a few microseconds a request (measured in ``tests/security/test_request_log.py``).

Everything else a process logs (granian, rdflib, Flask, Python ``warnings``) goes through
`JsonLogHandler` on the root logger: one JSON record per log event (``"event":"log"``, the level, the
logger's name, the message JSON-escaped and cut at `MAX_MESSAGE` characters, the exception's type),
never a raw line, so no request value can forge a record. rdflib's term warnings (``… does not look
like a valid URI``) are silenced: they only repeat a value our binder or parser refuses with a 400.
With ``KG_REQUEST_LOG=off`` these records still go to stderr.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sys
import time


_EXT = "amlkg_request_log"
#: the environ key where a route leaves the hash of the query it ran (the SPARQL text's)
QUERY_HASH = "amlkg.query_hash"
#: the environ key a route sets to say the answer came from the result cache
CACHE = "amlkg.cache"
MAX_PATH = 200
#: characters of a library's log message kept in its record
MAX_MESSAGE = 500
#: loggers whose records only repeat, with the raw value, a request our own code refuses with a 400
SILENCED_LOGGERS = ("rdflib.term",)


def query_hash(text: str | bytes, key: bytes = b"") -> str:
    """16 hex digits identifying `text` (keyed BLAKE2b-64).

    >>> query_hash("SELECT * { ?s ?p ?o }", b"k") == query_hash(b"SELECT * { ?s ?p ?o }", b"k")
    True
    >>> query_hash("SELECT 1", b"k") != query_hash("SELECT 1", b"other")
    True
    >>> len(query_hash("x"))
    16
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8, key=key[:64]).hexdigest()


def open_sink(where: str):
    """A function writing one line (bytes) to `where`, or None when logging is off."""
    where = (where or "").strip()
    if where.lower() in ("off", "none", "false", "0", "no"):
        return None
    if where.lower() in ("", "stderr", "-"):
        fd = sys.stderr.fileno() if hasattr(sys.stderr, "fileno") else 2
    elif where.lower() == "stdout":
        fd = sys.stdout.fileno() if hasattr(sys.stdout, "fileno") else 1
    else:
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
    write = os.write

    def sink(line: bytes) -> None:
        try:
            write(fd, line)
        except (OSError, ValueError):
            pass  # a full disk or a closed pipe must not fail the request
    return sink


class RequestLog:
    """WSGI middleware writing one JSON line per request to `sink`."""

    def __init__(self, wsgi_app, sink, key: bytes):
        self.wsgi_app, self.sink, self.key = wsgi_app, sink, key
        self.pid = os.getpid()

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()
        status = []

        def capture(s, headers, exc_info=None):
            status.append(s)
            return start_response(s, headers, exc_info)

        try:
            result = self.wsgi_app(environ, capture)
        except BaseException:
            self.emit(environ, 500, t0)
            raise
        self.emit(environ, int(status[-1][:3]) if status else 500, t0)
        return result

    def emit(self, environ, status: int, t0: float) -> None:
        """Write the line (formatted by hand: a few microseconds, on every request)."""
        now = time.perf_counter()
        get = environ.get
        path = _wsgi_text(get("PATH_INFO") or "/")
        if len(path) > MAX_PATH:
            path = path[:MAX_PATH] + "…"
        method = get("REQUEST_METHOD") or "-"
        qh = get(QUERY_HASH)
        if qh is None:
            qs = get("QUERY_STRING")
            if qs:
                qh = query_hash(qs, self.key)
        cache = get(CACHE)
        line = b'{"event":"request","t":%.3f,"method":%s,"path":%s,"status":%d,"duration_ms":%.3f%s%s,"pid":%d}\n' % (
            time.time(), _json(method), _json(path), status, (now - t0) * 1000.0,
            b',"query_hash":"%s"' % qh.encode("ascii") if qh else b"",
            b',"cache":"%s"' % cache.encode("ascii") if cache else b"", self.pid)
        self.sink(line)


def _json(text: str) -> bytes:
    r"""A JSON string literal in ASCII: printable ASCII without quotes or backslashes (the usual path) as
    is, anything else escaped, so that no value can end a line for any reader (U+0085 and U+2028 are
    line breaks to some).

    >>> _json("/sparql"), _json('a"\n\u2028\x85')
    (b'"/sparql"', b'"a\\"\\n\\u2028\\u0085"')
    """
    if text.isalnum() or (text.isascii() and text.isprintable() and '"' not in text and "\\" not in text):
        return b'"%s"' % text.encode("ascii")
    return json.dumps(text, ensure_ascii=True).encode("ascii")


def _wsgi_text(value: str) -> str:
    r"""A WSGI environ string (bytes as latin-1) as the UTF-8 text the client sent.

    >>> _wsgi_text("/caf\xc3\xa9"), _wsgi_text("/\xff")
    ('/café', '/\ufffd')
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


class JsonLogHandler(logging.Handler):
    r"""A logging handler writing each record as one JSON line (see the module's docstring).

    >>> lines = []
    >>> h = JsonLogHandler(sink=lines.append)
    >>> h.emit(logging.makeLogRecord({"name": "rdflib", "levelno": 30, "levelname": "WARNING",
    ...                               "msg": 'x\n{"event":"request"}'}))
    >>> len(lines), lines[0].count(b"\n"), json.loads(lines[0])["message"]
    (1, 1, 'x\n{"event":"request"}')
    """

    def __init__(self, where: str | None = None, sink=None):
        super().__init__()
        if sink is None:
            if where is None:  # outside an app (the server's supervisor): the setting as an app reads it
                from . import config
                where = str(config.read()["KG_REQUEST_LOG"])
            sink = open_sink(where) or open_sink("stderr")
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string must not lose the record
                message = str(record.msg)
            doc = {"event": "log", "t": round(record.created, 3), "level": record.levelname.lower(),
                   "logger": record.name, "message": message[:MAX_MESSAGE], "pid": os.getpid()}
            if record.exc_info and record.exc_info[0] is not None:
                doc["exception"] = record.exc_info[0].__name__
            self.sink(json.dumps(doc, ensure_ascii=True).encode("ascii") + b"\n")
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            pass


def json_log_config(level: str = "WARNING") -> dict:
    """A `logging.config.dictConfig` mapping sending every logger (granian's too) to `JsonLogHandler`."""
    handler = {"json": {"()": "kg_service.request_log.JsonLogHandler"}}
    silenced = {name: {"level": "ERROR"} for name in SILENCED_LOGGERS}
    return {"version": 1, "disable_existing_loggers": False, "handlers": handler,
            "loggers": {"_granian": {"handlers": ["json"], "level": level, "propagate": False},
                        "granian.access": {"handlers": ["json"], "level": level, "propagate": False},
                        **silenced},
            "root": {"handlers": ["json"], "level": level}}


def route_library_logs(where: str | None = None) -> None:
    """Send this process's log records and Python warnings through `JsonLogHandler` (once)."""
    root = logging.getLogger()
    if not any(isinstance(h, JsonLogHandler) for h in root.handlers):
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(JsonLogHandler(where))
        if root.level == logging.NOTSET or root.level > logging.WARNING:
            root.setLevel(logging.WARNING)
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.captureWarnings(True)


def hash_key(app) -> bytes:
    """The key of the log's hashes: KG_LOG_HASH_KEY, else a random one for this process."""
    key = app.config.get("KG_LOG_HASH_KEY") or ""
    return str(key).encode("utf-8") if key else secrets.token_bytes(32)


def init_app(app) -> None:
    """Remember the hash key (routes hash their queries with it); install the log outermost."""
    key = hash_key(app)
    app.extensions[_EXT] = key
    where = str(app.config.get("KG_REQUEST_LOG", "stderr"))
    if app.testing and where == "stderr" and "KG_REQUEST_LOG" not in os.environ:
        where = "off"  # Flask test apps: quiet unless a log is asked for (another value, or the env)
    sink = open_sink(where)
    if sink is not None:
        app.wsgi_app = writer = RequestLog(app.wsgi_app, sink, key)
        app.extensions[_EXT + ".writer"] = writer
    if not app.testing or "KG_REQUEST_LOG" in os.environ:
        route_library_logs(where if sink is not None else "stderr")
        from flask.logging import default_handler
        app.logger.removeHandler(default_handler)  # the root's JSON handler takes the app's records


def get_writer(app):
    """The app's `RequestLog` (None when the log is off): the server's front logs its refusals with it."""
    return app.extensions.get(_EXT + ".writer")


def get_key(app=None) -> bytes:
    from flask import current_app
    return (app or current_app).extensions.get(_EXT, b"")
