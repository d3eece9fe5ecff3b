"""The named queries of `queries/*.rq`: their headers, parameters, and running them with typed bindings.

A header is the block of `#+ ` lines at the top of a file, read as YAML (see queries/README.md). A
header that does not parse, or a parameter without its inline VALUES block, raises `QueryHeaderError`
naming the file, so a broken query stops the service at start-up rather than at a user's request.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from .vocab import BASE

QUERIES_DIR = Path(__file__).resolve().parents[1] / "queries"
PARAM_TYPES = ("iri", "code", "string", "integer", "decimal", "boolean", "date", "profile")
_LOCAL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*\Z")  # \Z: `$` would let a final newline through


class QueryHeaderError(ValueError):
    """A .rq file's header is malformed; the message names the file."""


class ParameterError(ValueError):
    """A parameter value is missing or not of its declared type; `errors` maps name -> reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join("%s: %s" % kv for kv in errors.items()))
        self.errors = errors


@dataclass
class Param:
    name: str
    type: str
    required: bool = False
    description: str = ""
    values: list | None = None


@dataclass
class NamedQuery:
    name: str
    path: Path
    text: str
    summary: str
    description: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    examples: dict[str, dict] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    @property
    def form(self) -> str:
        body = re.sub(r"(?m)^\s*(#.*|PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*$", "", self.text)
        m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", body, re.IGNORECASE)
        return m.group(1).upper() if m else "SELECT"


def parse_header(path: Path, text: str) -> dict:
    """The YAML document formed by the leading `#+ ` lines.

    >>> parse_header(Path("x.rq"), "#+ summary: Drugs\\n#+ params:\\n#+   gene: {type: code}\\nSELECT * {}")
    {'summary': 'Drugs', 'params': {'gene': {'type': 'code'}}}
    """
    lines = []
    for line in text.splitlines():
        if line.startswith("#+"):
            lines.append(line[3:] if line.startswith("#+ ") else line[2:])
        elif line.strip() and not line.startswith("#"):
            break
    try:
        header = yaml.safe_load("\n".join(lines)) or {}
    except yaml.YAMLError as e:
        raise QueryHeaderError("%s: header is not valid YAML: %s" % (path.name, e)) from None
    if not isinstance(header, dict):
        raise QueryHeaderError("%s: header must be a mapping of keys" % path.name)
    return header


def load_query(path: Path) -> NamedQuery:
    """Read one .rq file and check its header against its body."""
    text = path.read_text(encoding="utf-8")
    header = parse_header(path, text)
    if not header.get("summary"):
        raise QueryHeaderError("%s: header needs a `#+ summary:` line" % path.name)
    unknown = set(header) - {"summary", "description", "params", "examples", "tags"}
    if unknown:
        raise QueryHeaderError("%s: unknown header keys %s" % (path.name, sorted(unknown)))
    params = {}
    for name, spec in (header.get("params") or {}).items():
        spec = spec or {}
        if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
            raise QueryHeaderError("%s: parameter %r needs a type, one of %s" % (path.name, name, PARAM_TYPES))
        if spec["type"] != "profile" and not re.search(r"VALUES\s*\??\(?\s*\?%s\b" % re.escape(name), text):
            raise QueryHeaderError("%s: parameter %r has no inline `VALUES ?%s { … }` block to bind"
                                   % (path.name, name, name))
        params[name] = Param(name, spec["type"], bool(spec.get("required")), str(spec.get("description", "")),
                             spec.get("values"))
    examples = header.get("examples") or {}
    for ex, values in examples.items():
        extra = set(values or {}) - set(params) - ({"disease", "status", "mutations", "remission_months", "age",
                                                    "prior_therapy", "site", "symptoms"} if "profile" in params else set())
        if extra:
            raise QueryHeaderError("%s: example %r uses undeclared parameters %s" % (path.name, ex, sorted(extra)))
    return NamedQuery(path.stem, path, text, str(header["summary"]).strip(), str(header.get("description", "")).strip(),
                      params, {k: dict(v or {}) for k, v in examples.items()}, list(header.get("tags") or []))


def load_all(folder: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    """Every named query of the folder, by name (the file's stem)."""
    return {p.stem: load_query(p) for p in sorted(folder.glob("*.rq"))}


def to_term(param: Param, raw, code_lookup=None):
    """Convert one raw parameter value (string from a URL, or JSON value) to a typed RDF term.

    >>> to_term(Param("kind", "iri"), "IDHInhibitor")
    rdflib.term.URIRef('https://w3id.org/amlkg/IDHInhibitor')
    >>> to_term(Param("n", "integer"), "12")
    rdflib.term.Literal('12', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#integer'))
    >>> to_term(Param("n", "integer"), "12 } DROP")
    Traceback (most recent call last):
    ...
    ValueError: not a whole number: '12 } DROP'
    """
    t = param.type
    text = raw if isinstance(raw, str) else None
    if param.values is not None and str(raw) not in [str(v) for v in param.values]:
        raise ValueError("must be one of %s" % ", ".join(map(str, param.values)))
    if t == "iri":
        value = str(raw)
        if value.startswith(("http://", "https://")):
            from .store.binding import term_to_sparql
            term_to_sparql(URIRef(value))  # validates
            from .store import rdf
            try:
                rdf.NamedNode(value)  # the RFC 3987 check a SPARQL parser applies to <…>
            except ValueError:
                raise ValueError("not a valid IRI: %r" % value) from None
            return URIRef(value)
        if value.startswith("amlkg:"):
            value = value[len("amlkg:"):]
        if not _LOCAL_ID.match(value):
            raise ValueError("not an entity id: %r" % value)
        return URIRef(BASE + value)
    if t == "code":
        if code_lookup is None:
            raise ValueError("codes cannot be resolved here")
        iri = code_lookup(str(raw))
        if iri is None:
            raise ValueError("unknown code %r" % raw)
        return iri
    if t == "string":
        return Literal(str(raw))
    if t == "integer":
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?\d{1,18}", str(raw).strip()):
            raise ValueError("not a whole number: %r" % raw)
        return Literal(int(str(raw).strip()), datatype=XSD.integer)
    if t == "decimal":
        try:
            d = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError("not a number: %r" % raw) from None
        if not d.is_finite():
            raise ValueError("not a finite number: %r" % raw)
        return Literal(d, datatype=XSD.decimal)
    if t == "boolean":
        if isinstance(raw, bool):
            return Literal(raw)
        if text is not None and text.lower() in ("true", "false", "1", "0"):
            return Literal(text.lower() in ("true", "1"))
        raise ValueError("not true or false: %r" % raw)
    if t == "date":
        try:
            return Literal(_dt.date.fromisoformat(str(raw)).isoformat(), datatype=XSD.date)
        except ValueError:
            raise ValueError("not an ISO date (YYYY-MM-DD): %r" % raw) from None
    raise ValueError("parameters of type %s are bound by their own endpoint" % t)


def bindings_for(query: NamedQuery, raw: dict, code_lookup=None) -> dict:
    """Typed bindings for `raw` values; unknown or bad parameters raise ParameterError naming each."""
    errors = {}
    out = {}
    for name in raw:
        if name not in query.params:
            errors[name] = "not a parameter of %s" % query.name
    for name, param in query.params.items():
        if param.type == "profile":
            continue
        if name not in raw or raw[name] in (None, ""):
            if param.required:
                errors[name] = "required"
            else:
                out[name] = None  # UNDEF: the parameter does not narrow the answer
            continue
        try:
            out[name] = to_term(param, raw[name], code_lookup)
        except ValueError as e:
            errors[name] = str(e)
    if errors:
        raise ParameterError(errors)
    return out
