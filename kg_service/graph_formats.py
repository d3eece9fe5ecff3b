"""Graph answers (CONSTRUCT/DESCRIBE) in the formats a store does not write the way we want.

A store is asked for N-Triples and the answer is rewritten here: JSON-LD compact with the amlkg
context (kg_service/jsonld.py), and N-Quads / TriG, in which a graph is a dataset with only a
default graph (N-Triples lines are N-Quads lines; TriG is written with the vocabulary's prefixes).
The same holds for every backend, since a remote server's JSON-LD or TriG would differ from ours.
"""
from __future__ import annotations

from . import negotiation as n
from .jsonld import ntriples_to_jsonld
from .store import rdf as ox
from .vocab import PREFIXES

#: media types we write ourselves, from the store's N-Triples
REWRITTEN = frozenset((n.JSON_LD, n.NQUADS, n.TRIG))


def store_media_type(media_type: str) -> str:
    """What to ask the store for to answer a graph in `media_type`.

    >>> store_media_type("application/trig"), store_media_type("text/turtle")
    ('application/n-triples', 'text/turtle')
    """
    return n.NTRIPLES if media_type in REWRITTEN else media_type


def rewrite(body: bytes, media_type: str) -> bytes:
    """The store's N-Triples `body` written as `media_type` (unchanged for the store's own formats).

    >>> nt = b'<https://w3id.org/amlkg/a> <https://w3id.org/amlkg/p> "x" .\\n'
    >>> rewrite(nt, "application/n-quads") == nt
    True
    >>> print(rewrite(nt, "application/trig").decode().strip().splitlines()[-1])
    amlkg:a amlkg:p "x" .
    """
    if media_type not in REWRITTEN:
        return body
    if media_type == n.JSON_LD:
        return ntriples_to_jsonld(body)
    if media_type == n.NQUADS:
        return body
    triples = ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
    used = {p: ns for p, ns in PREFIXES.items() if ns.encode() in body}
    return ox.serialize(triples, format=ox.RdfFormat.TRIG, prefixes=used)
