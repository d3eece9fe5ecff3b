"""Inspect a SPARQL query before it runs: its form, its dataset clauses, and whether it uses SERVICE.

pyoxigraph evaluates ``SERVICE <iri>`` by opening an HTTP connection, and its keywords need no
separators (``?o.SERVICE``, ``1SERVICE``, ``SERVICESILENTex:y`` are all SERVICE), so the guard does
not look for whole words. It lexes the query as SPARQL does, sets aside only what can hide text
(comments, strings, IRIs, variable names, the local part of prefixed names, each matched to the
grammar's exact character classes), and refuses the query if ``service`` appears anywhere in what
remains. The one context-dependent token is ``<`` (an IRI, or less-than inside an expression); the
lexer follows the grammar's bracket contexts to tell them apart.

The guard also measures how big a structure the engine would recurse on. pyoxigraph's parser and
evaluator recurse once per nested bracket AND once per element of long flat constructs (a chain of
``!``/``&&``/``+``, sibling OPTIONALs, FILTERs, BINDs, triple patterns, UNION branches …): past a
few thousand (benchmarks/crash_sizes.py measures each class) the thread's stack overflows and the
process dies, which no timeout can catch. So, whatever the construct, the query's *complexity* (its
count of significant tokens, leaving out the rows of VALUES and INSERT/DELETE DATA blocks, which the
engine reads as flat lists; a token inside a collection or path group counts 3, as a collection's
element becomes a blank node and two triple patterns) is bounded by a setting (KG_MAX_QUERY_COMPLEXITY), brackets may nest at
most `MAX_NESTING` deep (nested collections and blank-node brackets also cost exponential time), and
one property path may have at most `MAX_PATH_LENGTH` operators (``/``, ``|``, ``^``: parsing a path
costs time cubic in its length). A token count bounds every construct at once, seen or not: each
element of a construct is at least one token.

A query whose text is short, and contains neither "service" nor "from" and few brackets and path
characters (the common case) is not lexed at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from ..errors import ProblemError
from ..negotiation import query_form
from ..store import rdf

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
_UNESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# what an update may not contain: SERVICE (a request to another server) or LOAD (a fetch of a URL)
_NETWORK = re.compile(r"service|load", re.IGNORECASE)
#: deepest bracket nesting accepted (pyoxigraph parses 64 nested collections in ~0.2 s)
MAX_NESTING = 64
#: most operators in one property path (a 64-step path parses in ~0.02 s, 256 steps in ~1.3 s)
MAX_PATH_LENGTH = 64
#: default most significant tokens in a query (KG_MAX_QUERY_COMPLEXITY): the smallest measured crash
#: is ~6,600 elements (benchmarks/crash_sizes.py); the largest shipped query is ~700 tokens
DEFAULT_MAX_COMPLEXITY = 2000
_PATH_OPERATORS = frozenset("/|^")
_PATH_ENDS = frozenset(".;,{}[]")

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
    complexity: int = 0
    path_length: int = 0

    @property
    def has_dataset(self) -> bool:
        """True when the query names its own dataset (FROM / FROM NAMED)."""
        return bool(self.from_graphs or self.from_named)


def inspect_query(text: str, base: str | None = None, *,
                  max_complexity: int = DEFAULT_MAX_COMPLEXITY) -> QueryInfo:
    """Form, FROM / FROM NAMED graphs (as absolute IRIs) and SERVICE use of a query.

    >>> inspect_query("SELECT * WHERE { ?s ?p ?o }")
    QueryInfo(form='SELECT', from_graphs=(), from_named=(), service=False, depth=0, complexity=0, path_length=0)
    >>> q = "PREFIX g: <https://w3id.org/amlkg/graph/> SELECT * FROM g:acs FROM NAMED <meta> { ?s ?p ?o }"
    >>> inspect_query(q, base="https://w3id.org/amlkg/graph/")
    QueryInfo(form='SELECT', from_graphs=('https://w3id.org/amlkg/graph/acs',), from_named=('https://w3id.org/amlkg/graph/meta',), service=False, depth=0, complexity=0, path_length=0)
    >>> inspect_query("SELECT * { ?s ?p ?o.SERVICE <http://127.0.0.1:9/> {} }").service
    True
    >>> inspect_query('SELECT * { ?s ?p "SERVICE" ; <http://x/service> ?service } # SERVICE').service
    False
    >>> inspect_query("SELECT * { BIND(1 AS ?a) FILTER(?a<?b)SERVICE#>\\n<http://127.0.0.1:9/> {} }").service
    True
    >>> inspect_query("SELECT * WHERE " + "{" * 100 + "}" * 100).depth
    100

    >>> inspect_query("ASK { FILTER(" + "!" * 3000 + "true) }").complexity
    3007
    >>> inspect_query("ASK { ?s " + "/".join(["<p>"] * 100) + " ?o }").path_length
    99

    `depth`, `complexity` and `path_length` are measured only when the text could exceed their
    limits (more than MAX_NESTING brackets, more than `max_complexity` non-space characters (a third
    of that with parentheses), more than MAX_PATH_LENGTH path characters); else they are 0.
    """
    form = query_form(text)
    lowered = text.lower()  # `in` on a lowered copy is ~50x faster than a case-insensitive regex
    # an upper bound of the complexity, cheaply: every token holds a non-space character, and counts
    # at most 3 (inside parentheses)
    solid = len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")
    full = ("service" in lowered or solid * (3 if "(" in text else 1) > max_complexity
            or text.count("{") + text.count("(") + text.count("[") > MAX_NESTING
            or text.count("/") + text.count("|") + text.count("^") > MAX_PATH_LENGTH)
    if not full and "from" not in lowered:
        return QueryInfo(form)
    return _scan(text, form, base, full=full)


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
    >>> inspect_update("INSERT DATA { GRAPH <urn:g> { %s } }" % " ".join("<urn:a> <urn:p> %d ." % i for i in range(500))).complexity
    3
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
    count = 0                      # significant tokens outside data blocks
    data_opens = False             # after VALUES or INSERT/DELETE DATA: the next `{` opens rows of data
    data_level = 0                 # while len(stack) >= data_level > 0, tokens are data (not counted)
    path = longest_path = 0        # operators of the current property path, and of the longest
    pos, end = 0, len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        kind = m.lastgroup
        value = m.group()
        pos = m.end()
        if kind == "ws" or kind == "comment":
            continue
        if not data_level:
            # a collection's element stands for a blank node and two triple patterns: it counts 3
            count += 3 if stack and stack[-1] == "list" else 1
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
            if upper == "VALUES" or (upper == "DATA" and prev is not None and prev[0] == "word"
                                     and prev[1].upper() in ("INSERT", "DELETE")):
                data_opens = True
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
            if value in _PATH_OPERATORS and (not stack or stack[-1] != "expr") and not (
                    value == "^" and prev is not None and (prev[0] == "str" or (
                        prev == ("punct", "^") and prev2 is not None and prev2[0] == "str"))):
                path += 1  # a property path operator (not division, `||`, or a literal's `^^`)
                if path > longest_path:
                    longest_path = path
            elif value in _PATH_ENDS:
                path = 0
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
                if data_opens and value == "{":
                    data_opens = False
                    if not data_level:
                        data_level = len(stack)
            elif value == ")" or value == "]" or value == "}":
                if stack:
                    stack.pop()
                if len(stack) < data_level:
                    data_level = 0
                if value == "}":
                    clause = None
        prev2, prev = prev, (kind, value)
    if not full:  # stopped early: too short to exceed the limits, and not measured
        count = longest_path = 0
    return QueryInfo(form, tuple(from_graphs), tuple(from_named), service, depth, count, longest_path)


def complexity(text: str) -> int:
    """The complexity measure of a query or update text (significant tokens outside data blocks).

    >>> complexity("ASK { FILTER(" + " && ".join(["true"] * 10) + ") }")
    34
    """
    return _scan(text, query_form(text), None, full=True).complexity


def refuse_if_too_complex(info: QueryInfo, max_complexity: int, what: str = "query") -> None:
    """Raise the 400 problem naming the limit a query (or update) exceeds, if any: nesting depth,
    property-path length, or complexity (KG_MAX_QUERY_COMPLEXITY)."""
    if info.depth > MAX_NESTING:
        raise ProblemError(400, "%s nested too deeply" % what.capitalize(),
                           "The %s nests brackets %d levels deep; at most %d are accepted."
                           % (what, info.depth, MAX_NESTING), kind="query-too-deep",
                           limit="nesting depth", max=MAX_NESTING, measured=info.depth)
    if info.path_length > MAX_PATH_LENGTH:
        raise ProblemError(400, "%s too complex" % what.capitalize(),
                           "A property path of the %s has %d operators (/, |, ^); at most %d are accepted "
                           "in one path." % (what, info.path_length, MAX_PATH_LENGTH),
                           kind="query-too-complex", limit="property path length",
                           max=MAX_PATH_LENGTH, measured=info.path_length)
    if info.complexity > max_complexity:
        raise ProblemError(400, "%s too complex" % what.capitalize(),
                           "The %s has %d terms, operators and keywords (not counting the rows of VALUES "
                           "and DATA blocks); at most %d are accepted (KG_MAX_QUERY_COMPLEXITY): the engine "
                           "recurses on long operator chains and long lists of patterns, and too long a "
                           "list would crash it. Split the %s, or move long lists of values into VALUES."
                           % (what, info.complexity, max_complexity, what),
                           kind="query-too-complex", limit="KG_MAX_QUERY_COMPLEXITY",
                           max=max_complexity, measured=info.complexity)


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
        iri = _UNESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), value[1:-1])
        return urljoin(base or "", iri) if base else iri
    prefix, _, local = value.partition(":")
    ns = prefixes.get(prefix)
    if ns is None:
        return None
    return ns + re.sub(r"\\(.)", r"\1", local)


def check_graph_iris(iris, where: str) -> None:
    """Refuse (400 `invalid-graph-iri`) a dataset graph IRI the SPARQL parser would not take as an
    absolute IRI (RFC 3987: a bad percent-escape, a control character U+007F-U+009F, a noncharacter,
    a private-use code point outside the query part, a space …); `where` names where it came from
    (FROM, FROM NAMED, default-graph-uri, named-graph-uri, graph).

    >>> check_graph_iris(["http://x/%"], "FROM")
    Traceback (most recent call last):
    ...
    kg_service.errors.ProblemError: FROM: 'http://x/%' is not an absolute IRI (Invalid IRI percent encoding '%')
    """
    for iri in iris:
        try:
            rdf.NamedNode(iri)
            reason = None if _SCHEME.match(iri) else "no scheme"
        except ValueError as e:
            reason = str(e)[:100]
        if reason is not None:
            raise ProblemError(400, "Invalid graph IRI", "%s: %s is not an absolute IRI (%s)"
                               % (where, ascii(iri[:200]) + ("..." if len(iri) > 200 else ""), reason),
                               kind="invalid-graph-iri", parameter=where)
