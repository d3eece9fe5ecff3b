"""Bind values into SPARQL text as typed RDF terms, never as pasted strings.

A parameter is bound by replacing the query's own inline ``VALUES ?var { … }`` blocks (every block
with that variable list, so the .rq file stays runnable with its defaults) or, if it has none, by a
trailing VALUES clause.
Every term is validated and serialised here, so user input cannot change the query's shape.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Mapping, Sequence

from rdflib import Literal, URIRef, BNode
from rdflib.namespace import XSD

from .base import StoreError


class BindingError(StoreError, ValueError):
    """A value cannot be bound as an RDF term: a store error of the caller's making, so every route
    answers it from the one table (`kg_service.errors.STORE_PROBLEMS`: 400) rather than as a fault."""


# \Z, not $: `$` also matches before a final newline, which would let "x\n" through
_IRI_OK = re.compile(r'^[^\x00-\x20<>"{}|^`\\]*\Z')
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def term_to_sparql(value) -> str:
    """Serialise one value as a SPARQL term.

    >>> term_to_sparql(URIRef("https://w3id.org/amlkg/IDH1Mutation"))
    '<https://w3id.org/amlkg/IDH1Mutation>'
    >>> term_to_sparql('x" } ; DROP ALL #')
    '"x\\\\" } ; DROP ALL #"'
    >>> term_to_sparql(12.5), term_to_sparql(True), term_to_sparql(None)
    ('"12.5"^^<http://www.w3.org/2001/XMLSchema#decimal>', '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>', 'UNDEF')
    >>> term_to_sparql(URIRef("http://x> } <y"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    kg_service.store.binding.BindingError: not a valid IRI: 'http://x> } <y'
    """
    if value is None:
        return "UNDEF"
    if isinstance(value, URIRef):
        iri = str(value)
        if not _IRI_OK.match(iri) or ":" not in iri:
            raise BindingError("not a valid IRI: %r" % iri)
        return "<%s>" % iri
    if isinstance(value, BNode):
        raise BindingError("blank nodes cannot be bound")
    if isinstance(value, bool):
        return '"%s"^^<%s>' % ("true" if value else "false", XSD.boolean)
    if isinstance(value, int):
        return '"%d"^^<%s>' % (value, XSD.integer)
    if isinstance(value, (float, Decimal)):
        d = Decimal(str(value))
        if not d.is_finite():
            raise BindingError("not a finite number: %r" % value)
        lexical = format(d, "f")
        return '"%s"^^<%s>' % (lexical if "." in lexical else lexical + ".0", XSD.decimal)
    if isinstance(value, Literal):
        lex = '"%s"' % _escape(str(value))
        if value.language:
            if not re.match(r"^[A-Za-z]+(-[A-Za-z0-9]+)*\Z", value.language):
                raise BindingError("not a valid language tag: %r" % value.language)
            return lex + "@" + value.language
        if value.datatype and value.datatype != XSD.string:
            return lex + "^^" + term_to_sparql(URIRef(value.datatype))
        return lex
    if isinstance(value, str):
        return '"%s"' % _escape(value)
    raise BindingError("cannot bind a %s" % type(value).__name__)


def _values_block(names: Sequence[str], rows: Sequence[Sequence]) -> str:
    for n in names:
        if not _VAR.match(n):
            raise BindingError("not a variable name: %r" % n)
    head = " ".join("?" + n for n in names)
    body = " ".join("(" + " ".join(term_to_sparql(v) for v in row) + ")" for row in rows)
    return "VALUES (%s) { %s }" % (head, body)


def _block_pattern(names: Sequence[str]) -> re.Pattern:
    vars_ = r"\s+".join(r"\?%s" % re.escape(n) for n in names)
    if len(names) == 1:
        head = r"(?:\(\s*%s\s*\)|%s)" % (vars_, vars_)
    else:
        head = r"\(\s*%s\s*\)" % vars_
    return re.compile(r"VALUES\s*%s\s*\{[^{}]*\}" % head, re.IGNORECASE)


def bind_values(query: str, bindings: Mapping | None) -> str:
    """Return `query` with each binding in place of its inline VALUES blocks (or appended).

    `bindings` maps a variable name to one value, to a list of values (several rows), or a
    tuple of names to a list of row tuples.

    >>> q = "SELECT ?d WHERE { VALUES ?gene { <urn:x:IDH1> } ?d <urn:x:targets> ?gene }"
    >>> bind_values(q, {"gene": [URIRef("urn:x:IDH2"), URIRef("urn:x:FLT3")]})
    'SELECT ?d WHERE { VALUES (?gene) { (<urn:x:IDH2>) (<urn:x:FLT3>) } ?d <urn:x:targets> ?gene }'
    >>> bind_values("SELECT ?s WHERE { ?s ?p ?o }", {"o": "a"})
    'SELECT ?s WHERE { ?s ?p ?o }\\nVALUES (?o) { ("a") }'
    """
    if not bindings:
        return query
    for key, value in bindings.items():
        if isinstance(key, tuple):
            names, rows = list(key), [tuple(r) for r in value]
        else:
            names = [key]
            rows = [(v,) for v in value] if isinstance(value, (list, tuple, set, frozenset)) else [(value,)]
        block = _values_block(names, rows)
        pattern = _block_pattern(names)
        if pattern.search(query):
            query = pattern.sub(lambda _m: block, query)
        else:
            query = query.rstrip() + "\n" + block
    return query
