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
