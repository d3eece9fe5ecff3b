"""Answers of the JSON API: orjson bodies, ETags from the graph version and the normalised request,
`If-None-Match` -> 304, and the shared in-process result cache (`kg_service.cache`).

Everything here runs on every request, so it stays small: one hash per answer, no parsing of bodies.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from typing import Callable, Hashable

import orjson
from flask import Blueprint, Response, request
from rdflib import Literal

from ..cache import get_cache
from ..errors import ProblemError
from ..served_store import get_store

JSON = "application/json"
CSV = "text/csv"
CACHE_CONTROL = "no-cache"  # clients may keep answers but revalidate (a rebuild changes them)

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGER_TYPES = frozenset(_XSD + t for t in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "negativeInteger",
    "nonPositiveInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte"))
_NUMBER_TYPES = frozenset(_XSD + t for t in ("decimal", "double", "float"))
_BOOLEAN = _XSD + "boolean"


def allow_cross_origin(blueprint: Blueprint) -> Blueprint:
    """Any origin may call a blueprint's routes (EHR apps run in browsers: CDS Hooks asks services
    to allow CORS), never with credentials; preflights get the methods and headers they ask for."""
    @blueprint.after_request
    def _cors(resp):
        resp.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = (
                request.headers.get("Access-Control-Request-Headers") or "Accept, Content-Type")[:500]
            resp.headers["Access-Control-Max-Age"] = "86400"
        return resp
    return blueprint


def dumps(obj) -> bytes:
    """JSON bytes (orjson; keys in the order built)."""
    return orjson.dumps(obj)


def etag_for(version: str, key: Hashable) -> str:
    """A strong validator for one representation: the graph version plus a hash of the request key.

    >>> tag = etag_for("f9a2bfdddb8c", ("options", (("status", "relapsed"),)))
    >>> tag.startswith('"f9a2bfdddb8c-'), tag == etag_for("f9a2bfdddb8c", ("options", (("status", "relapsed"),)))
    (True, True)
    """
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=10).hexdigest()
    return '"%s-%s"' % (version[:16] or "unbuilt", digest)


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks for it).

    >>> etag_matches('W/"a-1", "b-2"', '"a-1"'), etag_matches("*", '"x"'), etag_matches(None, '"x"')
    (True, True, False)
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part == etag:
            return True
    return False


def cached_answer(key: tuple, build: Callable[[], bytes], *, mimetype: str = JSON,
                  conditional: bool = True, vary: str | None = "Accept") -> Response:
    """Answer `key` from the cache or by `build()` (bytes), with its ETag; 304 when the client has it.

    `key` must hold everything the representation depends on besides the graph version.
    """
    version = get_store().graph_version()
    full_key = ("api",) + key

    def body() -> bytes:
        cache = get_cache()
        found = cache.get(version, full_key)
        if found is None:
            found = build()
            cache.put(version, full_key, found)
        return found
    return validated(etag_for(version, full_key), body, mimetype=mimetype, conditional=conditional, vary=vary)


def validated(etag: str, body: Callable[[], bytes | str], *, mimetype: str = JSON, conditional: bool = True,
              vary: str | None = None) -> Response:
    """A representation with its ETag: 304 when a GET/HEAD already holds `etag` (`body` is then never
    made), else `body()`; clients keep it but revalidate (Cache-Control: no-cache)."""
    if conditional and request.method in ("GET", "HEAD") and etag_matches(request.headers.get("If-None-Match"), etag):
        resp = Response(status=304)
    else:
        resp = Response(body(), mimetype=mimetype)
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = CACHE_CONTROL
    if vary:
        resp.headers["Vary"] = vary
    return resp


def plain_value(term):
    """An RDF term as a plain JSON value: numbers and booleans typed, everything else a string.

    >>> plain_value(Literal(3)), plain_value(Literal("2.5", datatype=_XSD + "decimal")), plain_value(Literal(True))
    (3, 2.5, True)
    >>> from rdflib import URIRef
    >>> plain_value(URIRef("https://w3id.org/amlkg/X")), plain_value(Literal("2022-12-01", datatype=_XSD + "date"))
    ('https://w3id.org/amlkg/X', '2022-12-01')
    """
    if isinstance(term, Literal):
        dt = str(term.datatype) if term.datatype is not None else None
        if dt is not None:
            text = str(term)
            if dt in _INTEGER_TYPES:
                try:
                    return int(text)
                except ValueError:
                    return text
            if dt in _NUMBER_TYPES:
                try:
                    number = float(text)
                except ValueError:
                    return text
                return number if math.isfinite(number) else text
            if dt == _BOOLEAN:
                return text in ("true", "1")
        return str(term)
    return None if term is None else str(term)


def csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rows_csv(columns: list[str], rows: list[dict]) -> bytes:
    """Rows of plain values as CSV (RFC 4180, CRLF line ends as the SPARQL CSV format uses).

    >>> rows_csv(["a", "b"], [{"a": 1, "b": True}, {"a": "x,y"}])
    b'a,b\\r\\n1,true\\r\\n"x,y",\\r\\n'
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_text(r.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def bad_request(title: str, errors: dict[str, str], detail: str = "", *, kind: str = "invalid-parameters") -> ProblemError:
    """A 400 naming each bad field."""
    detail = detail or "; ".join("%s: %s" % kv for kv in errors.items())
    return ProblemError(400, title, detail, kind=kind, errors=errors)


def single_args(args, *, lists: tuple[str, ...] = ()) -> dict:
    """Query parameters as one value each; list fields may repeat (joined with commas).

    Raises a 400 naming parameters given more than once with different values.
    """
    raw, errors = {}, {}
    for name in args:
        values = args.getlist(name)
        if name in lists:
            raw[name] = ",".join(values)
        elif len(set(values)) > 1:
            errors[name] = "given more than once"
        else:
            raw[name] = values[0]
    if errors:
        raise bad_request("Invalid parameters", errors)
    return raw
