"""The result-row cap: cut an answer to at most N rows (SELECT) or triples (CONSTRUCT/DESCRIBE).

Every row or triple takes at least one byte, so an answer no longer than the cap in bytes cannot
be over it: the common case costs one len(). Only longer answers are counted, per format.
"""
from __future__ import annotations

import csv
import io
from itertools import islice

import orjson

from .. import negotiation as n
from ..store import rdf as ox


def cap_rows(body: bytes, media_type: str, cap: int) -> tuple[bytes, bool]:
    """`body` cut to `cap` rows/triples, and whether it was cut.

    >>> body = b'?x\\n1\\n2\\n3\\n'
    >>> cap_rows(body, "text/tab-separated-values", 2)
    (b'?x\\n1\\n2\\n', True)
    >>> cap_rows(body, "text/tab-separated-values", 3)
    (b'?x\\n1\\n2\\n3\\n', False)
    >>> cap_rows(b'{"head":{"vars":["x"]},"results":{"bindings":[{},{},{}]}}', n.SPARQL_JSON, 1)
    (b'{"head":{"vars":["x"]},"results":{"bindings":[{}]}}', True)
    """
    if cap <= 0 or len(body) <= cap:
        return body, False
    cut = _CUTTERS.get(media_type)
    if cut is None:
        return body, False
    out = cut(body, cap)
    return (body, False) if out is None else (out, True)


def _json(body: bytes, cap: int):
    doc = orjson.loads(body)
    rows = (doc.get("results") or {}).get("bindings")
    if rows is None or len(rows) <= cap:
        return None
    doc["results"]["bindings"] = rows[:cap]
    return orjson.dumps(doc)


def _xml(body: bytes, cap: int):
    # text and attribute values escape '<', so these tags occur only as markup
    if body.count(b"<result>") <= cap:
        return None
    pos = -1
    for _ in range(cap):
        pos = body.index(b"</result>", pos + 1)
    head_end = body.index(b"<results>") + len(b"<results>")
    keep = body[:pos + len(b"</result>")] if cap else body[:head_end]
    return keep + b"</results></sparql>"


def _tsv(body: bytes, cap: int):
    # TSV escapes newlines inside terms, so each line is one row (the first is the header)
    if body.count(b"\n") - 1 <= cap:
        return None
    pos = -1
    for _ in range(cap + 1):
        pos = body.index(b"\n", pos + 1)
    return body[:pos + 1]


def _csv(body: bytes, cap: int):
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    if len(rows) - 1 <= cap:
        return None
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows[:cap + 1])
    return out.getvalue().encode("utf-8")


def _graph(fmt):
    def cut(body: bytes, cap: int):
        triples = list(islice(ox.parse(body, format=fmt), cap + 1))
        if len(triples) <= cap:
            return None
        return ox.serialize(triples[:cap], format=fmt)
    return cut


_CUTTERS = {
    n.SPARQL_JSON: _json, n.SPARQL_XML: _xml, n.TSV: _tsv, n.CSV: _csv,
    n.TURTLE: _graph(ox.RdfFormat.TURTLE), n.NTRIPLES: _graph(ox.RdfFormat.N_TRIPLES),
    n.RDF_XML: _graph(ox.RdfFormat.RDF_XML), n.JSON_LD: _graph(ox.RdfFormat.JSON_LD),
}
