"""Errors as RFC 9457 problem+json: every 4xx/5xx the service sends has this one shape."""
from __future__ import annotations

import logging
import re

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from .store import (BindingError, Overloaded, QuerySyntaxError, QueryTimeout, QueryUnsupported, StoreError,
                    StoreUnavailable, UnsupportedFormat)

PROBLEM_TYPE_BASE = "https://w3id.org/amlkg/problems/"
log = logging.getLogger("kg_service")


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", *, kind: str | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, title: str, detail: str = "", *, kind: str | None = None,
            headers: dict | None = None, **extra) -> Response:
    """Build a problem+json response.

    >>> r = problem(400, "Invalid profile", "age must be a whole number", errors={"age": "not a number"})
    >>> r.status_code, r.mimetype, r.get_json()["errors"]
    (400, 'application/problem+json', {'age': 'not a number'})
    """
    body = {"type": PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-")),
            "title": title, "status": status, "detail": detail or title}
    body.update(extra)
    resp = Response(orjson.dumps(body), status=status, mimetype="application/problem+json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def query_timeout(seconds: float | None = None, detail: str = "") -> ProblemError:
    """A query (or write) cut at its time limit, on every route: 504 with the problem type
    `query-timeout` and no Retry-After, as the same request would run out of time again (503 and
    Retry-After mean "busy now, retry": the concurrency gate and an unreachable store)."""
    extra = {} if seconds is None else {"timeout_seconds": seconds}
    return ProblemError(504, "Query timeout", detail or (
        "The query did not finish within %s and was stopped; it would run out of time again. Narrow it "
        "(more specific patterns, LIMIT), or query the release files offline."
        % ("%g s" % seconds if seconds is not None else "its time limit")), kind="query-timeout", **extra)


#: The one table from a kind of store trouble to its answer, whatever the route or backend: (kind,
#: status, title, problem type, Retry-After?). The first kind the error is an instance of wins, so a
#: kind comes before its base. 503 with Retry-After means "busy or away now, retry"; a query cut at
#: its deadline is 504 without one (the same query would run out of time again).
STORE_PROBLEMS = (
    (Overloaded, 503, "Server busy", "overloaded", True),
    (StoreUnavailable, 503, "Store unavailable", "store-unavailable", True),
    (QueryTimeout, 504, "Query timeout", "query-timeout", False),
    (QuerySyntaxError, 400, "Query syntax error", "query-syntax", False),
    (QueryUnsupported, 400, "Query evaluation error", "query-evaluation", False),
    (UnsupportedFormat, 406, "Not Acceptable", "not-acceptable", False),
    (BindingError, 400, "Invalid parameters", "invalid-parameters", False),
    (StoreError, 503, "Store unavailable", "store-unavailable", True),
)


def store_problem(e: Exception) -> ProblemError:
    """The answer to a store error, by its kind (STORE_PROBLEMS), never by its message's words (a cut
    query names the limit it ran into when the store set it: `QueryTimeout.seconds`).

    >>> p = store_problem(QueryTimeout("Service Unavailable: connection refused"))
    >>> p.status, p.kind, p.headers
    (504, 'query-timeout', {})
    >>> p = store_problem(StoreUnavailable("query timed out", retry_after=7))
    >>> p.status, p.kind, p.headers
    (503, 'store-unavailable', {'Retry-After': '7'})
    """
    for kind, status, title, problem_type, retry in STORE_PROBLEMS:
        if isinstance(e, kind):
            break
    else:
        raise TypeError("not a store error: %r" % (e,))
    text = str(e)
    headers = {"Retry-After": str(getattr(e, "retry_after", None) or 5)} if retry else {}
    extra = {}
    if kind is QueryTimeout:
        if e.seconds is not None:
            return query_timeout(e.seconds)
        return query_timeout(detail="%s; narrow the request (it would run out of time again)." % text if text else "")
    if kind is QuerySyntaxError:
        detail, extra = _syntax_detail(e)
    elif kind is QueryUnsupported:
        detail = "The query cannot be evaluated: %s" % _cut(" ".join(text.split()), 300)
    elif kind is BindingError:
        detail = "A value could not be bound: %s" % text[:300]
        extra = {"errors": {"parameters": text[:300]}}
    elif retry and kind is not Overloaded:
        detail = text.splitlines()[0][:500] if text else "the graph store cannot be reached now"
    else:
        detail = text
    return ProblemError(status, title, detail, kind=problem_type, headers=headers, **extra)


def _syntax_detail(e: QuerySyntaxError) -> tuple[str, dict]:
    """The detail of a syntax error, with its line and column when the parser gave them."""
    text = _cut(re.sub(r"^error at \d+:\d+:\s*", "", str(e)), 300)
    if e.line is not None:
        where = "line %d" % e.line + (", column %d" % e.column if e.column is not None else "")
        return "Syntax error at %s: %s" % (where, text), {"line": e.line, "column": e.column}
    return "Syntax error: %s" % text, {}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def respond(p: ProblemError, **headers) -> Response:
    """The problem+json answer of a ProblemError (`headers` added to its own)."""
    return problem(p.status, p.title, p.detail, kind=p.kind, headers={**p.headers, **headers}, **p.extra)


def init_app(app: Flask) -> None:
    """Answer every error as problem+json; never a stack trace."""

    app.register_error_handler(ProblemError, respond)

    @app.errorhandler(StoreError)
    def _store(e: StoreError):
        """Store trouble on any route (STORE_PROBLEMS), never a 500."""
        return respond(store_problem(e))

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        resp = problem(e.code or 500, e.name, e.description or "")
        for k, v in e.get_headers():
            if k.lower() not in ("content-type", "content-length"):
                resp.headers[k] = v
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "The server failed to answer; the error was logged.")
