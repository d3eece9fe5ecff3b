"""Inspect a SPARQL query before it runs: its form, its dataset clauses, and whether it uses SERVICE.

pyoxigraph evaluates ``SERVICE <iri>`` by opening an HTTP connection, and its keywords need no
separators (``?o.SERVICE``, ``1SERVICE``, ``SERVICESILENTex:y`` are all SERVICE), so the guard does
not look for whole words. It lexes the query as SPARQL does, sets aside only what can hide text
(comments, strings, IRIs, variable names, the local part of prefixed names, each matched to the
grammar's exact character classes), and refuses the query if ``service`` appears anywhere in what
remains. The one context-dependent token is ``<`` (an IRI, or less-than inside an expression); the
lexer follows the grammar's bracket contexts to tell them apart.

The guard also measures bracket nesting: pyoxigraph's parser overflows its stack (killing the
process) at a few thousand nested braces, and takes exponential time on nested collections and
blank-node brackets, so queries nested deeper than `MAX_NESTING` are refused before they reach it.

A query whose text contains neither "service" nor "from" and few brackets (the common case) is
not lexed at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from ..negotiation import query_form

# -- the grammar's character classes (SPARQL 1.1 Query, section 19.8) -------------------------------
_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D"
         "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_U = _BASE + "_"
_CHARS = _U + r"\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_VARNAME = "[%s0-9][%s0-9\u00B7\u0300-\u036F\u203F-\u2040]*+" % (_U, _U)
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PREFIX = "(?:[%s](?:[%s.]*[%s])?)?" % (_BASE, _CHARS, _CHARS)
_LOCAL = "(?:(?:[%s:0-9]|%s)(?:(?:[%s.:]|%s)*(?:[%s:]|%s))?)?" % (_U, _PLX, _CHARS, _PLX, _CHARS, _PLX)
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"

_TOKEN = re.compile(r"""
  (?P<ws>\s+)
 |(?P<comment>\#[^\r\n]*)
 |(?P<str>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
         |"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')
 |(?P<var>[?$]%(var)s)
 |(?P<bnode>_:%(local)s)
 |(?P<pname>(?P<prefix>%(prefix)s):(?P<local>%(local)s))
 |(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*(?:--[A-Za-z]+)?)
 |(?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)
 |(?P<word>[A-Za-z]+)
 |(?P<lt><)
 |(?P<punct>[\s\S])
""" % {"var": _VARNAME, "local": _LOCAL, "prefix": _PREFIX}, re.VERBOSE)
_IRI = re.compile(r"<(?:[^<>\"{}|^`\\\x00-\x20]|%s)*>" % _UCHAR)
_SERVICE = re.compile(r"service", re.IGNORECASE)
# what an update may not contain: SERVICE (a request to another server) or LOAD (a fetch of a URL)
_NETWORK = re.compile(r"service|load", re.IGNORECASE)
#: deepest bracket nesting accepted (pyoxigraph parses 64 nested collections in ~0.2 s)
MAX_NESTING = 64

# tokens after which a `<` inside an expression starts a term (an IRI), not the less-than operator
_OPERATORS = frozenset("(,=!<>&|+-*/^")
# words that end an operand inside an expression
_LITERAL_WORDS = frozenset(("TRUE", "FALSE"))
_CLAUSE_END = frozenset(("WHERE", "FROM", "LIMIT", "OFFSET", "VALUES"))


@dataclass(frozen=True)
class QueryInfo:
    """What the endpoint needs to know about a query before running it."""
    form: str | None
    from_graphs: tuple[str, ...] = ()
    from_named: tuple[str, ...] = ()
    service: bool = False
    depth: int = 0

    @property
    def has_dataset(self) -> bool:
        """True when the query names its own dataset (FROM / FROM NAMED)."""
        return bool(self.from_graphs or self.from_named)


def inspect_query(text: str, base: str | None = None) -> QueryInfo:
    """Form, FROM / FROM NAMED graphs (as absolute IRIs) and SERVICE use of a query.

    >>> inspect_query("SELECT * WHERE { ?s ?p ?o }")
    QueryInfo(form='SELECT', from_graphs=(), from_named=(), service=False, depth=0)
    >>> q = "PREFIX g: <https://w3id.org/amlkg/graph/> SELECT * FROM g:acs FROM NAMED <meta> { ?s ?p ?o }"
    >>> inspect_query(q, base="https://w3id.org/amlkg/graph/")
    QueryInfo(form='SELECT', from_graphs=('https://w3id.org/amlkg/graph/acs',), from_named=('https://w3id.org/amlkg/graph/meta',), service=False, depth=0)
    >>> inspect_query("SELECT * { ?s ?p ?o.SERVICE <http://127.0.0.1:9/> {} }").service
    True
    >>> inspect_query('SELECT * { ?s ?p "SERVICE" ; <http://x/service> ?service } # SERVICE').service
    False
    >>> inspect_query("SELECT * { BIND(1 AS ?a) FILTER(?a<?b)SERVICE#>\\n<http://127.0.0.1:9/> {} }").service
    True
    >>> inspect_query("SELECT * WHERE " + "{" * 100 + "}" * 100).depth
    100

    `depth` is measured only when the text holds more than MAX_NESTING brackets (else it is 0).
    """
    form = query_form(text)
    lowered = text.lower()  # `in` on a lowered copy is ~50x faster than a case-insensitive regex
    want_service = "service" in lowered
    want_depth = text.count("{") + text.count("(") + text.count("[") > MAX_NESTING
    if not want_service and not want_depth and "from" not in lowered:
        return QueryInfo(form)
    return _scan(text, form, base, full=want_service or want_depth)


def inspect_update(text: str) -> QueryInfo:
    """Form and nesting depth of a SPARQL Update, with `service` true when the keyword SERVICE or LOAD
    appears anywhere outside strings, IRIs and names (the curator route refuses both: either makes
    the server fetch a URL).

    >>> inspect_update("INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:load> 'LOAD' } }").service
    False
    >>> inspect_update("LOAD<http://127.0.0.1:9/x>INTO GRAPH <urn:g>").service
    True
    >>> inspect_update("INSERT { GRAPH <urn:g> { ?s ?p ?o } } WHERE { SERVICE <http://x/> { ?s ?p ?o } }").service
    True
    """
    return _scan(text, query_form(text), None, full=True, words=_NETWORK)


def _scan(text: str, form: str | None, base: str | None, *, full: bool, words: re.Pattern = _SERVICE) -> QueryInfo:
    """Lex the query; with `full`, to the end (SERVICE check), else only through the dataset clauses."""
    stack: list[str] = []          # '{', '[', 'expr' or 'list' for each open bracket
    clause = None                  # 'projection' (after SELECT) or 'modifier' (after BY / HAVING)
    prev = prev2 = None            # the two previous significant tokens as (kind, text)
    prefixes: dict[str, str] = {}
    from_graphs: list[str] = []
    from_named: list[str] = []
    pending = None                 # after FROM: 'default' or 'named', waiting for the graph IRI
    top_braces = 0
    depth = 0
    service = False
    pos, end = 0, len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        kind = m.lastgroup
        value = m.group()
        pos = m.end()
        if kind == "ws" or kind == "comment":
            continue
        if kind == "lt":
            operator = bool(stack) and stack[-1] == "expr" and prev is not None and _ends_operand(prev)
            iri = None if operator else _IRI.match(text, m.start())
            if iri is not None:
                kind, value = "iri", iri.group()
                pos = iri.end()
            else:
                kind = "punct"
        elif kind == "pname":
            if full and not service and words.search(m.group("prefix")):
                service = True
        elif kind != "str" and kind != "var":
            if full and not service and words.search(value):
                service = True

        if kind == "word":
            upper = value.upper()
            if not stack and upper in ("FROM", "FROMNAMED"):
                pending = "named" if upper == "FROMNAMED" else "default"
            elif upper == "NAMED" and pending == "default":
                pending = "named"
            if upper == "SELECT":
                clause = "projection"
            elif upper == "BY" or upper == "HAVING":
                clause = "modifier"
            elif upper in _CLAUSE_END:
                clause = None
                if upper == "WHERE" and not stack and not full:
                    break
        elif kind == "iri" or kind == "pname":
            if pending and not stack:
                iri = _resolve(kind, value, prefixes, base)
                if iri:
                    (from_named if pending == "named" else from_graphs).append(iri)
                pending = None
            elif kind == "iri" and prev is not None:
                # prologue: BASE <iri>, PREFIX p: <iri> (later FROM clauses resolve against them)
                if prev[0] == "word" and prev[1].upper() == "BASE":
                    base = urljoin(base or "", value[1:-1])
                elif prev[0] == "pname" and prev2 is not None and prev2[0] == "word" \
                        and prev2[1].upper() == "PREFIX":
                    prefixes[prev[1].split(":", 1)[0]] = urljoin(base or "", value[1:-1])
        elif kind == "punct":
            if value == "(":
                stack.append("expr" if _opens_expression(stack, clause, prev, prev2) else "list")
                depth = max(depth, len(stack))
            elif value == "{" or value == "[":
                if value == "{" and not stack:
                    top_braces += 1
                    if not full and (top_braces > 1 or form != "CONSTRUCT"):
                        break
                stack.append(value)
                depth = max(depth, len(stack))
                clause = None
            elif value == ")" or value == "]" or value == "}":
                if stack:
                    stack.pop()
                if value == "}":
                    clause = None
        prev2, prev = prev, (kind, value)
    return QueryInfo(form, tuple(from_graphs), tuple(from_named), service, depth)


def _ends_operand(tok) -> bool:
    """True when `tok` completes an operand, so a following `<` is the less-than operator."""
    kind, value = tok
    if kind in ("var", "iri", "pname", "str", "num", "bnode", "lang"):
        return True
    if kind == "word":
        return value.upper() in _LITERAL_WORDS
    if kind == "punct":
        return value not in _OPERATORS
    return True


def _opens_expression(stack, clause, prev, prev2) -> bool:
    """Is the `(` about to open an expression (or a function's arguments), rather than an RDF
    collection, a property-path group or a VALUES row?"""
    if stack and stack[-1] == "expr":
        return True
    if clause is not None and (not stack or stack[-1] == "{"):
        return True
    if prev is None:
        return False
    kind, value = prev
    if kind == "word":
        return value.upper() not in ("VALUES", "A")
    if kind in ("iri", "pname") and prev2 is not None and prev2[0] == "word" \
            and prev2[1].upper() == "FILTER":
        return True
    return False


def _resolve(kind: str, value: str, prefixes: dict, base: str | None) -> str | None:
    """The absolute IRI of a graph named in FROM (a relative IRI or a prefixed name)."""
    if kind == "iri":
        return urljoin(base or "", value[1:-1]) if base else value[1:-1]
    prefix, _, local = value.partition(":")
    ns = prefixes.get(prefix)
    if ns is None:
        return None
    return ns + re.sub(r"\\(.)", r"\1", local)
