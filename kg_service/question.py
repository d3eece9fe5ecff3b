"""Plain-language questions to patient profiles, using the graph's own names.

`parse_question(text, lexicon)` reads a question such as "options for IDH1+ relapse" or "what if
AML comes back after 8 months in a 50 year old with FLT3" into the raw profile `parse_profile`
accepts, and says what it understood, which treatments it saw named (`mentions`) and which words it
could not use (`unrecognized`).

Words become profile values only through the graph: every label, synonym (skos:altLabel), brand name
and profile code of `queries/labels.rq` is a phrase (`Lexicon.from_rows`); misspelt words are read as
the nearest word of those names (rapidfuzz). The rest is grammar, none of it a name: numbers, bounds
and units (`question_numbers`), negation, history and uncertainty with NegEx (`negation`), and the
phrases of `question_grammar.yaml` (facts such as "too frail", status words such as "resistant", which
resolve to the graph's status codes). Both statuses named as alternatives ("relapsed or refractory")
are read as both (`ParsedQuestion.profiles`). The module is pure (no Flask, no store) except
`lexicon_for`, which reads the names from a store (once per graph version, into its snapshot).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field as _field

from .negation import grammar, reader
from .options import CHOICES, DEFAULTS, GENE_SYMBOL
from .question_numbers import BOUND_AFTER, BOUND_BEFORE, read_numbers
from .vocab import AMLKG

TREATMENT_IRI = str(AMLKG.Treatment)
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
IRREGULAR = {"come": "come", "came": "come", "comes": "come", "coming": "come", "went": "go", "goes": "go",
             "going": "go",
             "gone": "go", "did": "do", "does": "do", "done": "do", "doing": "do", "was": "be",
             "were": "be", "is": "be", "are": "be", "has": "have", "had": "have", "having": "have"}
#: connectors written between the parts of a combination ("ATRA plus chemo", "ATRA and ATO", "ATRA+ATO")
CONNECTORS = frozenset({"+", "&", "and", "plus"})
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|\+|&", re.IGNORECASE)
_GENE_SHAPE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
#: a protein change written beside a gene ("R132H", "p.R172K", "D835Y", "Arg132His")
_PROTEIN_CHANGE = re.compile(r"^(?:[A-Za-z]|[A-Z][a-z]{2})\d{1,4}(?:[A-Za-z]|[A-Z][a-z]{2}|fs)?$")
#: the least similarity (rapidfuzz ratio, 0-100) at which an unknown word is read as a name's word
FUZZY_CUTOFF = 80
#: the shortest unknown word the spelling correction tries
FUZZY_MIN_LENGTH = 5


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
                        "\u2014": "-", "\u00a0": " ", "\u2265": ">=", "\u2264": "<="})


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
#: the words of bounds ("at least", "longer than"): never a name by themselves
_BOUND_STEMS = frozenset(stem(w) for phrase in (*BOUND_BEFORE, *BOUND_AFTER) for w in phrase.split()
                         if w.isalpha())


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
                if not key or len(key) > MAX_PHRASE or set(key) <= _BOUND_STEMS:
                    continue   # "at least", "longer": bound words, read with their numbers
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
    statuses: list = _field(default_factory=list)    # both statuses, named as alternatives ("r/r AML")

    @property
    def has_status(self) -> bool:
        return "status" in self.profile and "status" not in self.conflicts

    @property
    def profiles(self) -> list[dict]:
        """The raw profiles to answer: one, or one per status when both were named as alternatives
        ("relapsed or refractory AML" is answered for each situation)."""
        if self.statuses and "status" not in self.profile:
            return [{**self.profile, "status": s} for s in self.statuses]
        return [self.profile]


def parse_question(text: str, lexicon: Lexicon | None = None) -> ParsedQuestion:
    """Read a question into a raw profile, using only the lexicon's names for its values.

    Without `lexicon`, the served graph's (inside a Flask request or app context). The steps: numbers
    (`question_numbers`), the graph's names (longest first; misspelt words corrected to the nearest
    name's word), the grammar's phrases (`question_grammar.yaml`), then negation and history of what
    was found (NegEx, `kg_service.negation`).

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
    rules = grammar()

    def note(field_name, value, surface, via):
        values.setdefault(field_name, [])
        if value not in values[field_name]:
            values[field_name].append(value)
        parsed.understood.append({"text": surface, "field": field_name, "value": value, "via": via})

    # numbers first: ages, remission lengths, and times since an event (read, never a remission)
    for n in read_numbers(plain):
        if not _claim(tokens, n.start, n.end):
            continue
        if n.field == "since":
            parsed.understood.append({"text": text[n.start:n.end], "field": None, "value": None, "via": n.via})
            continue
        note(n.field, n.value, text[n.start:n.end], n.via)

    remission_words = set(rules["remission_words"])
    for t in tokens:
        if t.text.lower() in remission_words:
            t.norm, t.used = "remission", True
    _correct_spelling(tokens, lexicon, parsed, rules)
    either = _either_status(tokens, rules, plain)
    facts = _grammar_phrases(tokens, rules, text, statuses=False)

    # the graph's names, longest first, over the words not yet used
    found: list[_Found] = []
    content = [i for i, t in enumerate(tokens) if not t.used and t.norm not in _STOP_STEMS]
    i = 0
    while i < len(content):
        match = _longest(lexicon, tokens, content, i)
        if match is None:
            i += 1
            continue
        length, cands = match
        span = [tokens[content[j]] for j in range(i, i + length)]
        parts = _decompose(lexicon, tokens, content, i, length, cands) or [(span, cands)]
        for part_tokens, part_cands in parts:
            for t in part_tokens:
                t.used = True
            found.append(_Found(part_cands[0].entity, part_cands[0], part_tokens, text))
        i += length
    found += _one_word_names(lexicon, tokens, text, found)
    found += _gene_shorthand(lexicon, tokens, text, found)
    variants = _protein_changes(lexicon, tokens, found, text)
    facts += _grammar_phrases(tokens, rules, text, statuses=True)
    facts += _after_treatment(tokens, found, rules, text)
    mutation_words = [t for t in tokens
                      if not t.used and t.norm in _MUTATION_WORDS and not _next_to_gene(t, found, tokens)]
    remission_words = [t for t in tokens if t.norm == "remission"]

    # negation and history of everything found, in one pass of the reader
    targets = [(f.start, f.end) for f in found] + [(f.start, f.end) for f in facts] + \
        [(t.start, t.end) for t in mutation_words + remission_words]
    flags = iter(reader().flags(plain, targets))
    for f in found:
        f.flags = next(flags)
    for f in facts:
        f.flags = next(flags)
    word_flags = [next(flags) for _ in mutation_words + remission_words]

    history = _history_entities(lexicon, rules)
    absent: list[str] = []
    received: set = set()
    received_text: list[str] = []
    for f in found:
        entity, cand, surface = f.entity, f.cand, f.surface
        if "mutations" in entity.values and f.flags.uncertain and not f.flags.negated:
            parsed.understood.append({"text": surface, "field": None, "value": None,
                                      "via": "not known: %s is neither found nor ruled out" % entity.label})
            continue
        if "mutations" in entity.values and f.flags.negated:
            code = entity.values["mutations"]
            if code not in absent:
                absent.append(code)
            parsed.understood.append({"text": surface, "field": "absent_mutations", "value": code,
                                      "via": "negated: tested negative for %s" % code})
            continue
        if f.flags.negated and set(entity.values) & {"symptoms", "site"}:
            parsed.understood.append({"text": surface, "field": None, "value": None,
                                      "via": "negated: %s, not stated of this leukemia" % entity.label})
            continue
        for field_name, therapy_iri in history.items():
            if entity.iri == therapy_iri or therapy_iri in entity.ancestors:
                if f.flags.historical:
                    note(field_name, not f.flags.negated, surface,
                         "%s named as %sreceived before" % (entity.label, "not " if f.flags.negated else ""))
        values_read = dict(entity.values)
        if not cand.direct and "disease" in values_read and len(values_read) > 1 and not any(
                t.norm in lexicon.disease_tokens for t in f.tokens):
            del values_read["disease"]   # "relapsed early" names a situation, not the subtype
        if values_read:
            how = "%s %r of %s" % (cand.name_kind, cand.name, entity.label) if cand.direct else \
                "%r (%s), a kind of %s" % (cand.name, entity.label, ", ".join(
                    "%s %s" % (k, v) for k, v in sorted(entity.values.items())))
            for field_name, value in values_read.items():
                note(field_name, value, surface, how)
        elif entity.therapy:
            if f.flags.historical and not f.flags.negated:
                received.add(entity.iri)
                received_text.append(surface)
            if not any(m["id"] == entity.iri for m in parsed.mentions):
                parsed.mentions.append({"id": entity.iri, "label": entity.label, "kind": entity.kind,
                                        "text": surface, "via": "%s %r" % (cand.name_kind, cand.name)})
    if "prior_therapy" not in values:
        for code, how in _prior_therapy_of(lexicon, received):
            note("prior_therapy", code, ", ".join(received_text), "inferred: %s" % how)
    for code, surface in variants:
        parsed.warnings.append("%s: a variant the graph does not name; read as a %s mutation" % (surface, code))

    # facts said in words: fitness, donor, coming back; statuses the names do not spell out
    for f in facts:
        value = f.value if f.own_negation or not f.flags.negated else _negate(f.value)
        if f.field == "status":
            if value is None:
                continue
            entity = lexicon.code_entity("status", value)
            if entity is not None:
                note("status", entity.code, f.surface, "status words, %s" % entity.label)
            continue
        note(f.field, value, f.surface, "%s%s" % ("negated: " if f.flags.negated and not f.own_negation else "",
                                                 f.field.replace("_", " ")))
    for t, fl in zip(mutation_words + remission_words, word_flags):
        if not fl.negated:
            continue
        t.used = True
        if t.norm == "remission":
            entity = lexicon.code_entity("status", rules["status"]["negated_remission"])
            if entity is not None and "status" not in values:   # "relapsed, not in remission now": relapsed
                note("status", entity.code, t.text, "not in remission: %s" % entity.label)
        else:
            values.setdefault("mutations", [])
            parsed.understood.append({"text": t.text, "field": "mutations", "value": [],
                                      "via": "negated: tested, no mutation found"})

    # gene symbols the graph does not know: accepted (the answer warns), never silently dropped
    for t in tokens:
        if t.used or not _GENE_SHAPE.match(t.text) or not any(c.isdigit() for c in t.text):
            continue
        if not GENE_SYMBOL.match(t.text) or _PROTEIN_CHANGE.match(t.text):
            continue
        t.used = True
        (flag,) = reader().flags(plain, [(t.start, t.end)])
        if flag.negated:
            absent.append(t.text.upper())
            continue
        note("mutations", t.text.upper(), t.text, "gene symbol (not in the graph)")

    # implied: a remission that lasted, or a leukemia that keeps coming back, has come back
    if "status" not in values and ("remission_months" in values or values.get("keeps_coming_back") == [True]):
        entity = lexicon.code_entity("status", "relapsed")
        if entity is not None and (any(t.norm == "remission" for t in tokens) or "keeps_coming_back" in values):
            note("status", entity.code, "remission" if "remission_months" in values else "keeps coming back",
                 "implied: %s" % entity.label)

    _profile_from(values, absent, either, parsed)
    seen = set()
    grammar_words = _grammar_forms(rules)
    for t in tokens:
        if t.used or t.norm in _STOP_STEMS or t.norm in ("not", "+") or t.norm in grammar_words:
            continue
        if t.text.lower() not in seen:
            seen.add(t.text.lower())
            parsed.unrecognized.append(t.text)
    return parsed


_FIELD_ORDER = ("disease", "status", "mutations", "absent_mutations", "remission_months", "age", "prior_therapy",
                "site", "symptoms", "fit", "donor", "prior_transplant", "keeps_coming_back")
_MUTATION_WORDS = frozenset({"mutation", "mutat", "variant"})


def _profile_from(values: dict, absent: list, either: bool, parsed: ParsedQuestion) -> None:
    """The profile fields of what was read; conflicts and the "either status" reading noted."""
    if "prior_therapy" in values and values.get("disease") == [DEFAULTS["disease"]]:
        # the prior therapies are the initial treatments of a subtype (the contract: APL's); "AML" in the
        # same question is then the family the subtype belongs to, and the subtype is left to the profile
        del values["disease"]
        said = [u["text"] for u in parsed.understood if u["field"] == "disease"]
        parsed.understood.append({"text": said[0] if said else "", "field": "disease", "value": None,
                                  "via": "read as the family: the prior therapy named decides the subtype"})
    mutations = values.get("mutations")
    if mutations is not None:
        absent = [a for a in absent if a not in mutations]
    if absent:
        values["absent_mutations"] = absent
    for field_name, vals in values.items():
        if field_name in ("mutations", "symptoms", "absent_mutations"):
            parsed.profile[field_name] = list(vals)
            continue
        if field_name in ("disease", "site") and len(vals) > 1:
            specific = [v for v in vals if v != DEFAULTS[field_name]]
            vals = specific if len(specific) == 1 else vals
        if field_name == "status" and len(vals) > 1 and either:
            parsed.statuses = list(vals)
            parsed.warnings.append("the question names both statuses as alternatives (%s): answered for each"
                                   % " or ".join(vals))
            continue
        if field_name == "status" and either and len(vals) == 1:
            other = [s for s in CHOICES["status"] if s != vals[0]]
            parsed.statuses = [vals[0]] + other
            continue
        if len(vals) > 1:
            parsed.conflicts[field_name] = list(vals)
            parsed.warnings.append("the question gives more than one %s (%s)" % (
                field_name.replace("_", " "), ", ".join(map(str, vals))))
        parsed.profile[field_name] = vals[0]
    if either and not parsed.statuses and "status" not in parsed.profile:
        parsed.statuses = list(CHOICES["status"])
    parsed.profile = {k: parsed.profile[k] for k in _FIELD_ORDER if k in parsed.profile}


def _negate(value):
    return (not value) if isinstance(value, bool) else None


@dataclass
class _Found:
    """A name of the graph found in the question, with the reader's flags."""
    entity: Entity
    cand: Candidate
    tokens: list
    text: str
    flags: object = None

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @property
    def surface(self) -> str:
        return self.text[self.start:self.end]


@dataclass
class _Fact:
    """A grammar phrase found in the question: a profile fact and its value."""
    field: str
    value: object
    start: int
    end: int
    surface: str
    own_negation: bool     # the phrase itself says "not" ("no donor"): the reader's flag is not applied again
    flags: object = None


def _grammar_phrases(tokens: list[Token], rules: dict, text: str, *, statuses: bool) -> list[_Fact]:
    """The facts (or the statuses) of the grammar file found in the question, longest phrase first.

    Phrases of a leukemia that keeps coming back also say it came back: their status words are left
    for the graph's names to read."""
    phrases, status_words = _phrase_table(id(rules), rules, statuses)
    norms = [t.norm for t in tokens]
    present = set(norms)
    hits = []
    for rank, (key, field_name, value) in enumerate(phrases):   # longest first
        if key[0] not in present:
            continue
        n = len(key)
        hits += [(rank, i, key, field_name, value) for i in range(len(tokens) - n + 1)
                 if norms[i] == key[0] and tuple(norms[i:i + n]) == key]
    out = []
    for _rank, i, key, field_name, value in sorted(hits):
        seq = tokens[i:i + len(key)]
        if field_name == "keeps_coming_back":
            if any(t.used and t.norm not in status_words for t in seq):
                continue
            for t in seq:
                if t.norm not in status_words:
                    t.used = True
        else:
            if any(t.used for t in seq):
                continue
            for t in seq:
                t.used = True
        out.append(_Fact(field_name, value, seq[0].start, seq[-1].end, text[seq[0].start:seq[-1].end],
                         "not" in key))
    return out


def _after_treatment(tokens: list[Token], found: list, rules: dict, text: str) -> list[_Fact]:
    """Status words said right after a treatment the question names ("the chemo failed")."""
    out = []
    for code, words in rules["status"]["after_treatment"].items():
        keys = [tuple(t.norm for t in tokenize(w)) for w in words]
        for f in found:
            if not f.entity.therapy:
                continue
            k = tokens.index(f.tokens[-1]) + 1
            while k < len(tokens) and tokens[k].norm in _STOP_STEMS and tokens[k].norm != "not":
                k += 1   # "the chemo has failed"
            for key in keys:
                seq = tokens[k:k + len(key)]
                if tuple(t.norm for t in seq) == key and not any(t.used for t in seq):
                    for t in seq:
                        t.used = True
                    out.append(_Fact("status", code, f.start, seq[-1].end, text[f.start:seq[-1].end], True))
                    break
    return out


_tables: dict = {}


def _phrase_table(key, rules: dict, statuses: bool) -> tuple[list, set]:
    """The grammar's fact (or status) phrases as token forms, longest first, and the status words; read
    once per grammar."""
    table = _tables.get((key, statuses))
    if table is None:
        phrases = []
        if not statuses:
            for field_name, by_value in rules["facts"].items():
                for value, words in by_value.items():
                    for w in words:
                        phrases.append((tuple(t.norm for t in tokenize(w)), field_name, value == "true"))
        else:
            for code, words in rules["status"].items():
                if isinstance(words, list):
                    for w in words:
                        phrases.append((tuple(t.norm for t in tokenize(w)), "status", code))
        phrases.sort(key=lambda p: -len(p[0]))
        status_words = {w for words in rules["status"].values() if isinstance(words, list)
                        for phrase in words for w in (t.norm for t in tokenize(phrase))}
        table = _tables[(key, statuses)] = (phrases, status_words)
    return table


def _either_status(tokens: list[Token], rules: dict, plain: str) -> bool:
    """Both statuses named as alternatives: "relapsed or refractory", "relapsed/refractory", "r/r"."""
    norms = [t.norm for t in tokens]
    for w in rules["either_status"]:
        key = [t.norm for t in tokenize(w)]
        for i in range(len(norms) - len(key) + 1):
            if norms[i:i + len(key)] == key:
                for t in tokens[i:i + len(key)]:
                    t.used = True
                return True
    alternatives = _tables.get(("either", id(rules)))
    if alternatives is None:
        alternatives = _tables[("either", id(rules))] = [tuple(t.norm for t in tokenize(w))
                                                         for w in rules["either_pairs"]]
    words = [t.norm for t in tokenize(re.sub(r"\s*(?:/|\band/or\b)\s*", " or ", plain))]
    for i in range(len(words)):
        for a in alternatives:
            if tuple(words[i:i + len(a)]) == a:
                return True
    return False


def _history_entities(lexicon: Lexicon, rules: dict) -> dict[str, str]:
    """Profile fields of a treatment received before -> the therapy the graph names with the field's word
    (the one therapy whose names end with it)."""
    cached = getattr(lexicon, "_history", None)
    if cached is None:
        cached = {}
        for field_name in rules.get("history_fields") or ():
            word = field_name.split("_", 1)[1]
            hits = {c.entity.iri for key, cands in lexicon.phrases.items() if key and key[-1] == stem(word)
                    for c in cands if c.entity.therapy}
            if len(hits) == 1:
                cached[field_name] = hits.pop()
        lexicon._history = cached
    return cached


def _one_word_names(lexicon: Lexicon, tokens: list[Token], text: str, found: list) -> list[_Found]:
    """Names written shorter than the graph writes them:

    - a word that is the first or last word of the names of exactly one therapy ("transplant",
      "arsenic"); names of a site written just before it modify it ("bone marrow transplant");
    - a name's last word after a word contained in the name's first word ("spinal fluid" for
      "cerebrospinal fluid"), when that last word ends the names of exactly one entity.
    """
    ends, heads = _name_ends(lexicon)
    out = []
    for k, t in enumerate(tokens):
        if t.used:
            continue
        if t.norm in ends:
            entity = lexicon.entities[ends[t.norm]]
            span = [t]
            before = [f for f in found if f.end <= t.start and not text[f.end:t.start].strip(" -")
                      and set(f.entity.values) == {"site"}]
            for f in before:
                found.remove(f)
                span = f.tokens + span
            t.used = True
            out.append(_Found(entity, Candidate(entity, t.text, "word", False), span, text))
            continue
        if t.norm in heads and k > 0 and not tokens[k - 1].used:
            prev = tokens[k - 1]
            hits = {iri for iri, first in heads[t.norm]
                    if len(prev.text) >= 4 and prev.text.lower() in first and prev.text.lower() != first}
            if len(hits) == 1:
                entity = lexicon.entities[hits.pop()]
                prev.used = t.used = True
                cand = Candidate(entity, "%s %s" % (prev.text, t.text), "shortened name", bool(entity.code))
                out.append(_Found(entity, cand, [prev, t], text))
    return out


_NUMBERED_NAME = re.compile(r"^([A-Za-z]+)(\d+)$")


def _gene_shorthand(lexicon: Lexicon, tokens: list[Token], text: str, found: list) -> list[_Found]:
    """Numbered genes written as one name and its siblings' numbers ("IDH1/2", "IDH1/2/3"): a number
    right after a slash that follows a found gene's name is the gene of that prefix and number, when
    the graph names it (otherwise the number stays unrecognized)."""
    prefix_at = {}   # token position -> the name prefix of the gene found there
    for f in found:
        m = _NUMBERED_NAME.match(f.surface)
        if m and "mutations" in f.entity.values:
            prefix_at[f.tokens[-1].end] = m.group(1)
    out = []
    for t in tokens:
        if t.used or not t.text.isdigit():
            continue
        before = text[:t.start].rstrip()
        if not before.endswith("/"):
            continue
        prefix = prefix_at.get(len(before[:-1].rstrip()))
        entity = lexicon.code_entity("mutations", prefix + t.text) if prefix else None
        if entity is None:
            continue
        t.used = True
        prefix_at[t.end] = prefix
        out.append(_Found(entity, Candidate(entity, prefix + t.text, "shorthand", True), [t], text))
    return out


def _name_ends(lexicon: Lexicon) -> tuple[dict, dict]:
    """(first or last word -> the one therapy whose names it starts or ends, last word -> [(entity, first
    word)] of the entities with a value whose names end with it), read once per lexicon."""
    cached = getattr(lexicon, "_ends", None)
    if cached is None:
        by_word: dict[str, set] = {}
        by_last: dict[str, set] = {}
        singles = {k[0] for k in lexicon.phrases if len(k) == 1}
        for key, cands in lexicon.phrases.items():
            if len(key) < 2:
                continue
            for c in cands:
                if c.entity.therapy and not c.entity.values:
                    for w in (key[0], key[-1]):
                        if len(w) >= 5 and w.isalpha():
                            by_word.setdefault(w, set()).add(c.entity.iri)
                elif c.entity.values and key[-1].isalpha() and len(key[-1]) >= 4:
                    by_last.setdefault(key[-1], set()).add((c.entity.iri, key[0]))
        ends = {w: next(iter(iris)) for w, iris in by_word.items() if len(iris) == 1 and w not in singles}
        heads = {w: sorted(pairs) for w, pairs in by_last.items()}
        cached = lexicon._ends = (ends, heads)
    return cached


def _prior_therapy_of(lexicon: Lexicon, named: set) -> list[tuple[str, str]]:
    """Prior-therapy codes of the coded combinations the therapies `named` (received before) make up:
    all parts of a combination named ("tretinoin and chemotherapy"), or one part that is a single drug
    (no narrower therapy in the graph) found in no other combination ("after arsenic").
    (code, how) pairs."""
    combos = getattr(lexicon, "_combos", None)
    if combos is None:
        combos = {}
        for key, cands in lexicon.phrases.items():
            if "+" not in key:
                continue
            parts, part = [], []
            for w in key + ("+",):
                if w == "+":
                    parts.append(tuple(part))
                    part = []
                else:
                    part.append(w)
            entities = []
            for part in parts:
                hits = {c.entity.iri for c in lexicon.phrases.get(part, ()) if c.entity.therapy}
                if len(hits) != 1:
                    break
                entities.append(hits.pop())
            else:
                for c in cands:
                    if c.entity.values.get("prior_therapy"):
                        combos.setdefault(c.entity.values["prior_therapy"], set()).add(frozenset(entities))
        lexicon._combos = combos
    out = []
    for code, part_sets in combos.items():
        for parts in part_sets:
            if parts <= named:
                out.append((code, "all its parts named as received before"))
                break
            for p in parts & named:
                others = [c for c, sets in combos.items() if c != code and any(p in ps for ps in sets)]
                narrower = any(p in e.ancestors for e in lexicon.entities.values())
                if not others and not narrower:
                    out.append((code, "%s, received before, is given only in %s" % (lexicon.entities[p].label, code)))
                    break
            else:
                continue
            break
    return out


def _protein_changes(lexicon: Lexicon, tokens: list[Token], found: list, text: str) -> list[tuple[str, str]]:
    """Protein changes written beside a gene the question names ("IDH1 R132H", "IDH2 p.R172K", "an R132H
    mutation in IDH1", "IDH1 p.Arg132His"): claimed as part of that gene's mutation; returned as (code,
    surface) when the graph does not name that variant."""
    genes = [f for f in found if f.entity.values.get("mutations")]
    out = []
    for k, t in enumerate(tokens):
        if t.used or not _PROTEIN_CHANGE.match(t.text) or not any(c.isdigit() for c in t.text):
            continue

        def distance(f, k=k):
            return min(abs(tokens.index(f.tokens[0]) - k), abs(tokens.index(f.tokens[-1]) - k))
        near = min(genes, key=distance, default=None)
        if near is None or distance(near) > 4:
            continue
        code = near.entity.values["mutations"]
        t.used = True
        if k > 0 and tokens[k - 1].norm == "p" and not tokens[k - 1].used:
            tokens[k - 1].used = True
        if not lexicon.phrases.get(phrase_key("%s %s" % (code, t.text))):
            out.append((code, "%s %s" % (code, t.text)))
    return out


def _next_to_gene(token: Token, found: list, tokens: list[Token]) -> bool:
    """The word "mutation" written with a gene ("FLT3 mutation", "mutation in IDH1", "IDH mutations") is
    that gene's, not a statement about all mutations."""
    k = tokens.index(token)
    near = tokens[max(0, k - 1):k] + tokens[k + 1:k + 3]
    return any(not t.used and _GENE_SHAPE.match(t.text) for t in near) or any(
        "mutations" in f.entity.values and (0 <= token.start - f.end <= 3 or 0 <= f.start - token.end <= 4)
        for f in found)


def _vocabulary(lexicon: Lexicon) -> tuple[dict, set]:
    """Words of the graph's names (as written, lower case) -> their matching form, for the spelling
    correction; and the matching forms of every name's words."""
    cached = getattr(lexicon, "_vocabulary", None)
    if cached is None:
        words: dict[str, str] = {}
        for r in lexicon.rows:
            e = lexicon.entities.get(r["entity"])
            if e is None or not (e.values or e.therapy):
                continue
            for t in tokenize(r["name"]):
                if t.text.isalpha() and len(t.text) >= FUZZY_MIN_LENGTH - 1:
                    words.setdefault(t.text.lower(), t.norm)
        forms = {w for key in lexicon.phrases for w in key}
        cached = lexicon._vocabulary = (words, forms)
    return cached


def _correct_spelling(tokens: list[Token], lexicon: Lexicon, parsed: ParsedQuestion, rules: dict) -> None:
    """Unknown words close to a word of the graph's names are read as that word: misspellings
    ("relasped", "gilteritnib": rapidfuzz's normalised Indel similarity at least `FUZZY_CUTOFF`) and
    longer forms of a one-word name ("painful", "nauseous": the name's word begins them). Each
    correction is reported in `understood`."""
    from rapidfuzz import fuzz, process
    words, forms = _vocabulary(lexicon)
    grammar_forms = _grammar_forms(rules)
    singles = {k[0] for k in lexicon.phrases if len(k) == 1 and k[0].isalpha() and len(k[0]) >= 4}
    for t in tokens:
        low = t.text.lower()
        if t.used or t.norm in forms or t.norm in _STOP_STEMS or t.norm in grammar_forms or low in words \
                or len(low) < FUZZY_MIN_LENGTH or not low.isalpha():
            continue
        best = process.extractOne(low, words.keys(), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if best is not None:
            t.norm = words[best[0]]
            parsed.understood.append({"text": t.text, "field": None, "value": best[0],
                                      "via": "spelling: read as %r (similarity %d)" % (best[0], best[1])})
            continue
        longer = [w for w in singles if low.startswith(w) or (len(w) >= 5 and low[:5] == w[:5])]
        if len(longer) == 1:
            t.norm = longer[0]
            parsed.understood.append({"text": t.text, "field": None, "value": longer[0],
                                      "via": "a longer form of %r" % longer[0]})


def _grammar_forms(rules: dict) -> set:
    """The matching forms of every word of the grammar file's phrases (never spelling-corrected)."""
    cached = _tables.get(("forms", id(rules)))
    if cached is not None:
        return cached
    forms = set()

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str):
            forms.update(t.norm for t in tokenize(x))
    walk(rules)
    _tables[("forms", id(rules))] = forms
    return forms


def _free(tokens: list[Token], start: int, end: int) -> bool:
    return not any(t.used for t in tokens if t.start < end and t.end > start)


def _claim(tokens: list[Token], start: int, end: int) -> bool:
    if not _free(tokens, start, end):
        return False
    for t in tokens:
        if t.start < end and t.end > start:
            t.used = True
    return True


def _longest(lexicon: Lexicon, tokens, content, i):
    """The longest phrase of the lexicon starting at content word i (not crossing a used word)."""
    best = None
    for length in range(min(MAX_PHRASE, len(content) - i), 0, -1):
        idx = content[i:i + length]
        if any(tokens[k].used for k in idx) or not _adjacent(tokens, idx):
            continue
        key = tuple(tokens[k].norm for k in idx)
        cands = lexicon.phrases.get(key)
        if not cands and length == 2:
            cands = lexicon.phrases.get(key[::-1])   # "haemoglobin low" for "low haemoglobin"
        if cands and (key[-1] != "+" or tokens[idx[-1]].text == "+"):   # "FLT3 and ...": not "FLT3+"
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


# -- reading the names from a store -------------------------------------------------------------
def lexicon_for(store, queries=None) -> Lexicon:
    """The lexicon of `store`'s graph, read with `queries/labels.rq` (the app keeps one per graph
    version in its snapshot: `current_lexicon`)."""
    if queries is None:
        from .named_queries import load_all
        queries = load_all()
    return Lexicon.from_rows(store.select(queries["labels"].text))


def current_lexicon() -> Lexicon:
    """The lexicon of the app's served graph version (needs a Flask app context)."""
    from .services import get_snapshot
    return get_snapshot().lexicon
