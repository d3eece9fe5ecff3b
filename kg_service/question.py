"""Plain-language questions to patient profiles, using the graph's own names.

`parse_question(text, lexicon)` reads a question such as "options for IDH1+ relapse" or "what if
AML comes back after 8 months in a 50 year old with FLT3" into the raw profile `parse_profile`
accepts, and says what it understood, which treatments it saw named (`mentions`) and which words it
could not use (`unrecognized`).

Words become profile values only through the graph: every label, synonym (skos:altLabel), brand name
and profile code of `queries/labels.rq` is a phrase (`Lexicon.from_rows`). The Python side holds only
grammar: small function words, negation, numbers with their units ("8 months", "50 year old"), and a
few status words the graph's names do not spell out ("recurred", "resistant"), which resolve to the
graph's status codes. The module is pure (no Flask, no store) except `lexicon_for`, which reads the
names from a store once per graph version.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field as _field

from .options import CHOICES, DEFAULTS, GENE_SYMBOL

TREATMENT_IRI = "https://w3id.org/amlkg/Treatment"
MAX_PHRASE = 12

# -- grammar ------------------------------------------------------------------------------------
#: words that carry no profile value; dropped before names are matched, never "unrecognized"
STOP_WORDS = frozenset("""
a an the for of in on at to with by from into as about around than then that this these those there
what which who whom whose when where why how whether is are was were be been being am do does did doing
has have had having can could would should will shall may might must if it its it's my our your his her
their me i we you he she they them us patient patients person people man woman men women someone
somebody child adult case diagnosis diagnosed leukemia leukaemia cancer disease type kind
or and but so also just only very still again now already any some all each other another
option options choice choices treatment treatments therapy therapies treat treated treating
recommend recommended recommendation recommendations available possible best good help helps helped
tell show give list find know want need get got please would like
mutation mutations mutated mutant positive gene genes carrying carries carry harboring harbouring
remission induction initial first second prior previous previously before after following later
since ago old year years age aged month months week weeks
doctor doctors advise advised suggest suggested consider work works working
happen happens happened next last lasted lasting lasts long wild wt unmutated
""".split())
#: negation words: kept for matching ("doesn't go away"), dropped when unused
NEGATIONS = frozenset({"not", "no", "never", "without", "negative", "cannot"})
#: irregular verb forms -> the form names use
IRREGULAR = {"came": "come", "comes": "come", "coming": "come", "went": "go", "goes": "go", "going": "go",
             "gone": "go", "did": "do", "does": "do", "done": "do", "doing": "do", "was": "be",
             "were": "be", "is": "be", "are": "be", "has": "have", "had": "have", "having": "have"}
#: connectors written between the parts of a combination ("ATRA plus chemo", "ATRA and ATO", "ATRA+ATO")
CONNECTORS = frozenset({"+", "&", "and", "plus"})
#: status words the graph's names do not contain, resolved to the graph's status codes
STATUS_GRAMMAR = {
    ("recur",): "relapsed", ("recurr",): "relapsed", ("recurrenc",): "relapsed", ("return",): "relapsed",
    ("back",): "relapsed", ("relaps",): "relapsed",
    ("resistant",): "refractory", ("persistent",): "refractory", ("persist",): "refractory",
    ("not", "respond"): "refractory", ("not", "go", "away"): "refractory", ("primary", "refractory"): "refractory",
}
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18,
                "twenty-four": 24, "twenty four": 24, "half a": 0.5}
_NUM = r"(\d+(?:\.\d+)?|%s)" % "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
_UNIT = r"(months?|mos?|mths?|years?|yrs?|weeks?|wks?)"
_BOUND = (r"(less than|fewer than|under|sooner than|shorter than|earlier than|before|within(?: about)?|"
          r"in under|up to|at most|no more than|more than|over|longer than|later than|beyond|greater than|"
          r"at least|exactly|about|around|approximately|roughly|nearly|almost)")
DURATION = re.compile(r"\b(?:%s\s+)?%s[\s-]*%s\b(?:\s+(or more|or longer|or less|or fewer|or so))?"
                      % (_BOUND, _NUM, _UNIT))
AGES = (
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?|y)[\s-]*olds?\b"),
    re.compile(r"\b(\d{1,3})\s*(?:yo|y/o|y\.o\.)(?![a-z])"),
    re.compile(r"\b(?:aged?|age of|age is)\s*:?\s*(\d{1,3})\b"),
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|\+|&", re.IGNORECASE)
_GENE_SHAPE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_BOUND_VALUE = {
    "less than": "lt", "fewer than": "lt", "under": "lt", "sooner than": "lt", "shorter than": "lt",
    "earlier than": "lt", "before": "lt", "in under": "lt",
    "within": "le", "within about": "le", "up to": "le", "at most": "le", "no more than": "le",
    "more than": "gt", "over": "gt", "longer than": "gt", "later than": "gt", "beyond": "gt", "greater than": "gt",
    "at least": "ge",
}


def normalise(text: str) -> str:
    """Lower case, accents and typographic quotes/dashes/spaces made plain.

    >>> normalise("Réfractory AML doesn’t go\\u00a0away — IDH1+")
    "refractory aml doesn't go away - idh1+"
    """
    return " ".join(plain_text(text).casefold().split())


def stem(word: str) -> str:
    """A light suffix stripper so that "relapse", "relapses" and "relapsed" meet.

    >>> [stem(w) for w in ("relapse", "relapsed", "relapses", "comes", "counts", "less", "idh1", "went")]
    ['relaps', 'relaps', 'relaps', 'come', 'count', 'less', 'idh1', 'go']
    """
    if word in IRREGULAR:
        return IRREGULAR[word]
    if not word.isalpha() or len(word) <= 3 or word.endswith("ss"):
        return word
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            return IRREGULAR.get(word, word)
    return word


@dataclass
class Token:
    text: str      # as written (accents stripped)
    norm: str      # the form phrases are matched on
    start: int
    end: int
    used: bool = False


def plain_text(text: str) -> str:
    """`text` without accents, with plain quotes and dashes (the text positions refer to).

    >>> plain_text("Réfractory — it’s")
    "Refractory - it's"
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.translate(_PLAIN)


_PLAIN = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u00a0": " "})


def _lower_same_length(text: str) -> str:
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def tokenize(text: str) -> list[Token]:
    """Words of `text` with the form names are matched on (stemmed, negations as "not", "+" joins).

    Positions refer to `plain_text(text)`.

    >>> [t.norm for t in tokenize("AML that didn't go away; ATRA plus chemo")]
    ['aml', 'that', 'not', 'go', 'away', 'atra', '+', 'chemo']
    """
    plain = plain_text(text)
    out = []
    for m in _TOKEN.finditer(plain):
        word = m.group(0)
        low = word.casefold()
        if low.endswith("n't") or low in NEGATIONS:
            norm = "not"
        elif low in CONNECTORS:
            norm = "+"
        else:
            norm = stem(low.split("'")[0])
        out.append(Token(word, norm, m.start(), m.end()))
    return out


def phrase_key(text: str) -> tuple[str, ...]:
    """The matching key of a name: its tokens' forms without the function words.

    >>> phrase_key("AML that doesn't go away"), phrase_key("loss of appetite"), phrase_key("ATRA+ATO")
    (('aml', 'not', 'go', 'away'), ('loss', 'appetit'), ('atra', '+', 'ato'))
    """
    return tuple(t.norm for t in tokenize(text) if t.norm not in _STOP_STEMS)


_STOP_STEMS = frozenset(stem(w) for w in STOP_WORDS) - {"not", "+", "go", "come", "back", "away"}


# -- the lexicon --------------------------------------------------------------------------------
@dataclass
class Entity:
    iri: str
    label: str
    code: str | None = None
    field: str | None = None
    parents: set = _field(default_factory=set)
    ancestors: set = _field(default_factory=set)
    values: dict = _field(default_factory=dict)   # profile field -> code (own or inherited)
    therapy: bool = False
    kind: str | None = None


@dataclass
class Candidate:
    entity: Entity
    name: str
    name_kind: str
    direct: bool      # the entity itself carries a profile code


class Lexicon:
    """The graph's names as phrases, each pointing at the entities it names."""

    def __init__(self, entities: dict[str, Entity], phrases: dict[tuple, list[Candidate]], rows: list[dict],
                 disease_tokens: frozenset, codes: dict[tuple[str, str], Entity]):
        self.entities, self.phrases, self.rows = entities, phrases, rows
        self.disease_tokens, self.codes = disease_tokens, codes

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "Lexicon":
        """Build from `queries/labels.rq` rows (values as strings: entity, name, nameKind, label,
        kindLabel, code, factorField)."""
        rows = [{k: str(v) for k, v in r.items() if v is not None} for r in rows]
        entities: dict[str, Entity] = {}
        by_label: dict[str, str] = {}
        kind_labels: dict[str, set] = {}
        for r in rows:
            iri = r["entity"]
            e = entities.get(iri)
            if e is None:
                e = entities[iri] = Entity(iri, r.get("label", iri))
            if r.get("code"):
                e.code = r["code"]
            if r.get("factorField"):
                e.field = r["factorField"]
            if r.get("kindLabel"):
                kind_labels.setdefault(iri, set()).add(r["kindLabel"])
                e.kind = e.kind or r["kindLabel"]
            if r.get("nameKind") == "label":
                by_label.setdefault(r["name"], iri)
        for iri, e in entities.items():
            e.parents = {by_label[k] for k in kind_labels.get(iri, ()) if k in by_label and by_label[k] != iri}
            if e.code and not e.field:
                e.field = _field_of_code(e.code)
        for e in entities.values():
            e.ancestors = _ancestors(e.iri, entities)
            e.therapy = TREATMENT_IRI in e.ancestors or e.iri == TREATMENT_IRI
        codes = {(e.field, e.code.lower()): e for e in entities.values() if e.code and e.field}
        mutation_codes = {e.code.lower(): e for e in entities.values() if e.code and e.field == "mutations"}
        for e in entities.values():
            if e.code and e.field:
                e.values = {e.field: e.code}
            elif e.label.lower() in mutation_codes:
                # a gene named like a mutation code (the IDH1 gene for the IDH1 code)
                e.values = {"mutations": mutation_codes[e.label.lower()].code}
            else:
                for anc in _nearest_first(e.iri, entities):
                    a = entities[anc]
                    if a.code and a.field and a.field not in e.values:
                        e.values[a.field] = a.code
        diseases = [e for e in entities.values() if e.field == "disease" and e.code]
        if diseases:
            # the disease every coded subtype is a kind of ("acute myeloid leukemia") names the default
            for iri in set.intersection(*(set(e.ancestors) for e in diseases)):
                if not entities[iri].values and not entities[iri].therapy:
                    entities[iri].values = {"disease": DEFAULTS["disease"]}
        disease_tokens = frozenset(
            key[0] for r in rows if r["entity"] in entities and entities[r["entity"]].field == "disease"
            for key in [phrase_key(r["name"])] if len(key) == 1)
        phrases: dict[tuple, list[Candidate]] = {}
        for r in rows:
            e = entities[r["entity"]]
            if not (e.values or e.therapy):
                continue  # recommendations, quotes, conditions, documents: not words of a question
            names = [r["name"]]
            if e.field and " or " in r["name"]:
                names += r["name"].split(" or ")   # "brain or cerebrospinal fluid"
            for name in names:
                key = phrase_key(name)
                if e.field != "disease" and len(key) > 1:
                    key = tuple(t for t in key if t not in disease_tokens) or key
                if not key or len(key) > MAX_PHRASE:
                    continue
                cands = phrases.setdefault(key, [])
                if not any(c.entity is e for c in cands):
                    cands.append(Candidate(e, name, r.get("nameKind", "label"), bool(e.code and e.field)))
        for key, cands in phrases.items():
            cands.sort(key=_candidate_rank)
        return cls(entities, phrases, rows, disease_tokens, codes)

    def code_entity(self, field_name: str, code: str) -> Entity | None:
        return self.codes.get((field_name, code.lower()))


def _field_of_code(code: str) -> str | None:
    for name, values in CHOICES.items():
        if code.lower() in (v.lower() for v in values):
            return name
    return None


def _ancestors(iri: str, entities: dict[str, Entity]) -> set:
    seen, stack = set(), list(entities[iri].parents)
    while stack:
        a = stack.pop()
        if a in seen or a not in entities:
            continue
        seen.add(a)
        stack.extend(entities[a].parents)
    return seen


def _nearest_first(iri: str, entities: dict[str, Entity]) -> list[str]:
    order, frontier, seen = [], sorted(entities[iri].parents), {iri}
    while frontier:
        nxt = []
        for a in frontier:
            if a in seen or a not in entities:
                continue
            seen.add(a)
            order.append(a)
            nxt.extend(sorted(entities[a].parents))
        frontier = nxt
    return order


_KIND_RANK = {"code": 0, "label": 1, "brand": 2, "synonym": 3}


def _candidate_rank(c: Candidate):
    return (0 if c.direct else 1 if c.entity.values else 2, _KIND_RANK.get(c.name_kind, 4), c.entity.iri)


# -- parsing ------------------------------------------------------------------------------------
@dataclass
class ParsedQuestion:
    question: str
    profile: dict                                   # raw profile for parse_profile
    understood: list = _field(default_factory=list)  # [{text, field, value, via}]
    mentions: list = _field(default_factory=list)    # [{id, label, kind, text}]
    unrecognized: list = _field(default_factory=list)
    warnings: list = _field(default_factory=list)
    conflicts: dict = _field(default_factory=dict)   # field -> values read, when more than one

    @property
    def has_status(self) -> bool:
        return "status" in self.profile and "status" not in self.conflicts


def parse_question(text: str, lexicon: Lexicon | None = None) -> ParsedQuestion:
    """Read a question into a raw profile, using only the lexicon's names for its values.

    Without `lexicon`, the served graph's (inside a Flask request or app context).

    >>> rows = [{"entity": "urn:ex:Relapsed", "name": "relapsed", "nameKind": "code", "label": "relapsed AML",
    ...          "code": "relapsed", "factorField": "status"},
    ...         {"entity": "urn:ex:IDH1Mutation", "name": "IDH1+", "nameKind": "synonym", "label": "IDH1 mutation",
    ...          "code": "IDH1", "factorField": "mutations"}]
    >>> p = parse_question("options for IDH1+ relapse", Lexicon.from_rows(rows))
    >>> p.profile, p.unrecognized
    ({'status': 'relapsed', 'mutations': ['IDH1']}, [])
    >>> parse_question("purple elephants", Lexicon.from_rows(rows)).unrecognized
    ['purple', 'elephants']
    """
    if lexicon is None:
        lexicon = current_lexicon()
    parsed = ParsedQuestion(question=text, profile={})
    text = plain_text(text)
    tokens = tokenize(text)
    plain = _lower_same_length(text)
    values: dict[str, list] = {}

    def note(field_name, value, surface, via):
        values.setdefault(field_name, [])
        if value not in values[field_name]:
            values[field_name].append(value)
        parsed.understood.append({"text": surface, "field": field_name, "value": value, "via": via})

    # numbers with units first: ages, then durations (a remission)
    for pattern in AGES:
        for m in pattern.finditer(plain):
            if _claim(tokens, m.start(), m.end()):
                note("age", int(m.group(1)), text[m.start():m.end()], "age")
    for m in DURATION.finditer(plain):
        if not _free(tokens, m.start(), m.end()):
            continue
        months, reading = _duration(m)
        if months is None:
            continue
        _claim(tokens, m.start(), m.end())
        note("remission_months", months, text[m.start():m.end()], reading)

    # the graph's names, longest first, over the words not yet used
    content = [i for i, t in enumerate(tokens) if not t.used and t.norm not in _STOP_STEMS]
    matched_entities: list[tuple[Entity, str, Candidate, int, int]] = []
    i = 0
    while i < len(content):
        found = _longest(lexicon, tokens, content, i)
        if found is None:
            i += 1
            continue
        length, cands = found
        span = [tokens[content[j]] for j in range(i, i + length)]
        parts = _decompose(lexicon, tokens, content, i, length, cands)
        if parts is None:
            parts = [(span, cands)]
        for part_tokens, part_cands in parts:
            cand = part_cands[0]
            surface = text[part_tokens[0].start:part_tokens[-1].end]
            for t in part_tokens:
                t.used = True
            first = tokens.index(part_tokens[0])
            matched_entities.append((cand.entity, surface, cand, first, tokens.index(part_tokens[-1]) - first + 1))
        i += length

    for entity, surface, cand, first, width in matched_entities:
        if "mutations" in entity.values and _negated_at(tokens, first, width):
            parsed.warnings.append("%r reads as not mutated: left out of the mutations" % surface)
            continue
        if entity.values:
            how = "%s %r of %s" % (cand.name_kind, cand.name, entity.label) if cand.direct else \
                "%r (%s), a kind of %s" % (cand.name, entity.label, ", ".join(
                    "%s %s" % (f, v) for f, v in sorted(entity.values.items())))
            for field_name, value in entity.values.items():
                note(field_name, value, surface, how)
        elif entity.therapy:
            if not any(m["id"] == entity.iri for m in parsed.mentions):
                parsed.mentions.append({"id": entity.iri, "label": entity.label, "kind": entity.kind,
                                        "text": surface, "via": "%s %r" % (cand.name_kind, cand.name)})

    # status words the names do not spell out, resolved through the graph's status codes
    for idx, t in enumerate(tokens):
        if t.used:
            continue
        for words, code in STATUS_GRAMMAR.items():
            seq = [x for x in tokens[idx:idx + len(words)]]
            if len(seq) == len(words) and all(not x.used for x in seq) and tuple(x.norm for x in seq) == words:
                entity = lexicon.code_entity("status", code)
                if entity is None:
                    continue
                for x in seq:
                    x.used = True
                note("status", entity.code, text[seq[0].start:seq[-1].end], "status word, %s" % entity.label)
                break

    # gene symbols the graph does not know: accepted (the answer warns), never silently dropped
    for idx, t in enumerate(tokens):
        if t.used or not _GENE_SHAPE.match(t.text) or not any(c.isdigit() for c in t.text):
            continue
        if not GENE_SYMBOL.match(t.text):
            continue
        t.used = True
        if _negated_at(tokens, idx):
            parsed.warnings.append("%r reads as not mutated: left out of the mutations" % t.text)
            continue
        note("mutations", t.text.upper(), t.text, "gene symbol (not in the graph)")

    # a remission that lasted implies the leukemia came back
    if "status" not in values and "remission_months" in values:
        entity = lexicon.code_entity("status", "relapsed")
        if entity is not None and any(t.norm == "remission" for t in tokens):
            note("status", entity.code, "remission", "a remission that ended: %s" % entity.label)

    # what the question says, as profile fields
    for field_name, vals in values.items():
        if field_name in ("mutations", "symptoms"):
            parsed.profile[field_name] = list(vals)
            continue
        if field_name == "disease" and len(vals) > 1:
            specific = [v for v in vals if v != DEFAULTS["disease"]]
            vals = specific if len(specific) == 1 else vals
        if field_name == "site" and len(vals) > 1:
            specific = [v for v in vals if v != DEFAULTS["site"]]
            vals = specific if len(specific) == 1 else vals
        if len(vals) > 1:
            parsed.conflicts[field_name] = list(vals)
            parsed.warnings.append("the question gives more than one %s (%s)" % (
                field_name.replace("_", " "), ", ".join(map(str, vals))))
        parsed.profile[field_name] = vals[0]
    parsed.profile = {k: parsed.profile[k] for k in _FIELD_ORDER if k in parsed.profile}

    seen = set()
    for t in tokens:
        if t.used or t.norm in _STOP_STEMS or t.norm in ("not", "+"):
            continue
        if t.text.lower() not in seen:
            seen.add(t.text.lower())
            parsed.unrecognized.append(t.text)
    return parsed


_FIELD_ORDER = ("disease", "status", "mutations", "remission_months", "age", "prior_therapy", "site", "symptoms")


def _free(tokens: list[Token], start: int, end: int) -> bool:
    return not any(t.used for t in tokens if t.start < end and t.end > start)


def _claim(tokens: list[Token], start: int, end: int) -> bool:
    if not _free(tokens, start, end):
        return False
    for t in tokens:
        if t.start < end and t.end > start:
            t.used = True
    return True


def _number(text: str) -> float:
    text = text.strip()
    return NUMBER_WORDS[text] if text in NUMBER_WORDS else float(text)


def _duration(m: re.Match) -> tuple[float | int | None, str]:
    """Months for a matched duration, and how the bound words were read."""
    bound, number, unit, tail = m.group(1), m.group(2), m.group(3), m.group(4)
    n = _number(number)
    if unit.startswith(("y",)):
        months = n * 12
    elif unit.startswith("w"):
        months = round(n * 12 / 52, 1)
    else:
        months = n
    how = _BOUND_VALUE.get(bound or "", None)
    if tail in ("or more", "or longer"):
        how = "ge"
    elif tail in ("or less", "or fewer"):
        how = "le"
    if how == "lt":
        value = months - 1 if months >= 2 else months / 2
        reading = "remission shorter than %s months, read as %s" % (_plain(months), _plain(value))
    elif how == "gt":
        value = months + 1
        reading = "remission longer than %s months, read as %s" % (_plain(months), _plain(value))
    else:
        value = months
        reading = "remission of %s months" % _plain(value) + (" (at least)" if how == "ge" else
                                                                " (at most)" if how == "le" else "")
    value = int(value) if float(value).is_integer() else round(float(value), 2)
    return value, reading


def _plain(n) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _longest(lexicon: Lexicon, tokens, content, i):
    """The longest phrase of the lexicon starting at content word i (not crossing a used word)."""
    best = None
    for length in range(min(MAX_PHRASE, len(content) - i), 0, -1):
        idx = content[i:i + length]
        if any(tokens[k].used for k in idx) or not _adjacent(tokens, idx):
            continue
        key = tuple(tokens[k].norm for k in idx)
        cands = lexicon.phrases.get(key)
        if cands:
            best = (length, cands)
            break
    return best


def _adjacent(tokens, idx) -> bool:
    """Content words of one phrase may only have function words between them."""
    for a, b in zip(idx, idx[1:]):
        if any(tokens[k].used or tokens[k].norm not in _STOP_STEMS for k in range(a + 1, b)):
            return False
        if b - a > 3:
            return False
    return True


def _decompose(lexicon: Lexicon, tokens, content, i, length, cands):
    """Split a matched phrase into shorter names that carry more profile fields ("CNS relapse" is
    site cns and status relapsed, not only a kind of relapse); None to keep the whole phrase."""
    if length < 2:
        return None
    parts, j = [], i
    while j < i + length:
        found = None
        for sub in range(min(i + length - j, length - 1), 0, -1):
            idx = content[j:j + sub]
            key = tuple(tokens[k].norm for k in idx)
            sub_cands = [c for c in lexicon.phrases.get(key, ()) if c.direct]
            if sub_cands and _adjacent(tokens, idx):
                found = (sub, sub_cands)
                break
        if found is None:
            if tokens[content[j]].norm == "+":
                j += 1
                continue
            return None
        sub, sub_cands = found
        parts.append(([tokens[k] for k in content[j:j + sub]], sub_cands))
        j += sub
    whole = set(cands[0].entity.values)
    split = set().union(*(set(c[0].entity.values) for _, c in parts)) if parts else set()
    return parts if split > whole else None


def _negated_at(tokens, idx, width: int = 1) -> bool:
    """A gene written as absent: "no FLT3", "without IDH1", "FLT3-negative", "FLT3 wild type"."""
    before = [t.text.lower() for t in tokens[max(0, idx - 2):idx]]
    after = [t.text.lower() for t in tokens[idx + width:idx + width + 1]]
    return (bool(before) and before[-1] in ("no", "not", "without", "non")) or (
        len(before) == 2 and before[0] in ("no", "without") and before[1] in ("a", "an", "any")) or bool(
        set(after) & {"negative", "wt", "wild", "unmutated"})


# -- reading the names from a store -------------------------------------------------------------
_lexicons: dict = {}
_lexicon_lock = threading.Lock()


def lexicon_for(store, queries=None) -> Lexicon:
    """The lexicon of `store`'s graph, read with `queries/labels.rq` once per graph version."""
    version = store.graph_version()
    key = (id(store), version)
    lex = _lexicons.get(key)
    if lex is None:
        if queries is None:
            from .named_queries import load_all
            queries = load_all()
        rows = store.select(queries["labels"].text)
        lex = Lexicon.from_rows(rows)
        with _lexicon_lock:
            if len(_lexicons) > 8:
                _lexicons.clear()
            _lexicons[key] = lex
    return lex


def current_lexicon() -> Lexicon:
    """The lexicon of the app's served store (needs a Flask app context)."""
    from .dataset import get_store
    from .services import get_queries
    return lexicon_for(get_store(), get_queries())
