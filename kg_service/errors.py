"""Errors as RFC 9457 problem+json: every 4xx/5xx the service sends has this one shape."""
from __future__ import annotations

import logging

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

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


def store_problem(e: Exception) -> ProblemError:
    """The one answer to each kind of store trouble, whatever the route: a busy worker (503 +
    Retry-After), a query cut at its deadline (504, no Retry-After), a value that cannot be bound
    (400), an unreachable or damaged store (503 + Retry-After)."""
    from .limits import Overloaded
    from .store import BindingError, QueryTimeout, StoreUnavailable
    if isinstance(e, Overloaded):
        return ProblemError(503, "Server busy", str(e), kind="overloaded", headers={"Retry-After": str(e.retry_after)})
    if isinstance(e, QueryTimeout):
        return query_timeout(detail="%s; narrow the request (it would run out of time again)." % e if str(e) else "")
    if isinstance(e, BindingError):
        return ProblemError(400, "Invalid parameters", "A value could not be bound: %s" % str(e)[:300],
                            kind="invalid-parameters", errors={"parameters": str(e)[:300]})
    retry = getattr(e, "retry_after", 5) if isinstance(e, StoreUnavailable) else 5
    detail = str(e).splitlines()[0][:500] if str(e) else "the graph store cannot be reached now"
    return ProblemError(503, "Store unavailable", detail, kind="store-unavailable",
                        headers={"Retry-After": str(retry or 5)})


def init_app(app: Flask) -> None:
    """Answer every error as problem+json; never a stack trace."""

    @app.errorhandler(ProblemError)
    def _problem(e: ProblemError):
        return problem(e.status, e.title, e.detail, kind=e.kind, headers=e.headers, **e.extra)

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
