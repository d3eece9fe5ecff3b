"""The options finder: a patient profile in, the document's options for it out, each with its quote.

The matching itself is SPARQL (`queries/options.rq`: one state per condition); this module validates
the profile, binds it as typed (factor, value) rows, and shapes the rows into the contract's answer.
What changes only with the graph (recommendation details, vocabulary, approvals) is read once per
graph version, into that version's snapshot (`kg_service.snapshot`).
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field as _field
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from .disclaimer import DISCLAIMER
from .named_queries import NamedQuery, load_all
from .snapshot import Snapshot, Snapshots
from .store import Store
from .xrefs import xref_keys

PROFILE_FIELDS = ("disease", "status", "mutations", "absent_mutations", "remission_months", "age", "prior_therapy",
                  "site", "symptoms", "fit", "donor", "prior_transplant", "keeps_coming_back")
BOOLEAN_FIELDS = ("fit", "donor", "prior_transplant", "keeps_coming_back")
NUMBER_FIELDS = ("remission_months", "age")
# the contract's value sets (CONTRACT.md, "Profile fields"); codes map to classes through the graph
CHOICES = {
    "disease": ("AML", "APL"),
    "status": ("refractory", "relapsed"),
    "prior_therapy": ("ATRA+ATO", "ATRA+chemo"),
    "site": ("marrow", "cns"),
    "symptoms": ("pain", "low_blood_counts", "fatigue", "nausea", "appetite_loss", "infection"),
}
DEFAULTS = {"disease": "AML", "site": "marrow"}
# `prior_therapy` is by the contract an initial APL treatment: stating it without a subtype means APL
PRIOR_THERAPY_DISEASE = {"ATRA+ATO": "APL", "ATRA+chemo": "APL"}
GENE_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,15}$")
# a gene symbol, optionally followed by a variant name or protein change: FLT3-ITD, FLT3 D835Y, IDH2 p.R172K
MUTATION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}(?:[ -](?:[pP]\.)?[A-Za-z0-9*_>.]{1,24})?$")
# a number, a bound (<12, <=6, >12, >=24), a range (6-12) or "about" a number (~6)
NUMBER_NOTATION = re.compile(r"^\s*(?:(?P<op><=|>=|<|>|~)\s*(?P<n>\d+(?:\.\d+)?)"
                             r"|(?P<low>\d+(?:\.\d+)?)\s*-\s*(?P<high>\d+(?:\.\d+)?))\s*$")
#: words `mutations` takes instead of mutation names (contract, "Additions")
MUTATION_WORDS = ("none", "unknown")
TRUE_WORDS, FALSE_WORDS, UNKNOWN_WORDS = ("true", "yes", "1"), ("false", "no", "0"), ("unknown", "")
WHY_NAMES = {"disease": "disease", "status": "status", "mutations": "mutation", "prior_therapy": "prior therapy",
             "site": "site", "symptoms": "symptom", "remission_months": "remission (months)", "age": "age",
             "absent_mutations": "no mutation", "fit": "fit", "donor": "donor",
             "prior_transplant": "prior transplant", "keeps_coming_back": "keeps coming back"}


class ProfileError(ValueError):
    """The profile has malformed fields; `errors` maps each bad field to the reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join("%s: %s" % kv for kv in errors.items()))
        self.errors = errors


class Profile(dict):
    """A normalised profile (the answer echoes it), which also remembers what it did not state:
    `defaults` (fields filled by the contract's defaults) and `notes` (what was inferred, for `warnings`)."""

    def __init__(self, *args, defaults=(), notes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.defaults = list(defaults)
        self.notes = list(notes)


@dataclass(frozen=True)
class Interval:
    """A number as a profile may state it: exactly, as a bound, as a range, or about a value.
    `low`/`high` are None when unbounded on that side; `soft` marks "about N" (its tolerance taken)."""
    low: Decimal | None
    high: Decimal | None
    low_open: bool = False
    high_open: bool = False

    def contains(self, v: Decimal) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return False
        return True

    def overlaps(self, low: Decimal | None, high: Decimal | None) -> bool:
        """Whether some number in this interval lies strictly between low and high (None: unbounded)."""
        lo = Decimal("-Infinity") if self.low is None else self.low
        hi = Decimal("Infinity") if self.high is None else self.high
        a = Decimal("-Infinity") if low is None else low
        b = Decimal("Infinity") if high is None else high
        return max(lo, a) < min(hi, b)


def about_tolerance(n: Decimal) -> Decimal:
    """The tolerance of "about N": a tenth of N, at least 1 (about 6 months = 5-7; about 60 years = 54-66)."""
    return max(Decimal(1), (n / 10).to_integral_value(rounding="ROUND_CEILING"))


def interval_of(value) -> Interval | None:
    """The interval a normalised number field stands for (None when not given).

    >>> interval_of("<12"), interval_of(8) == Interval(Decimal(8), Decimal(8))
    (Interval(low=None, high=Decimal('12'), low_open=False, high_open=True), True)
    >>> interval_of("~6")
    Interval(low=Decimal('5'), high=Decimal('7'), low_open=False, high_open=False)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        v = Decimal(str(value))
        return Interval(v, v)
    m = NUMBER_NOTATION.match(value)
    if m.group("low") is not None:
        return Interval(Decimal(m.group("low")), Decimal(m.group("high")))
    op, n = m.group("op"), Decimal(m.group("n"))
    if op == "~":
        t = about_tolerance(n)
        return Interval(max(Decimal(0), n - t), n + t)
    return {"<": Interval(None, n, high_open=True), "<=": Interval(None, n),
            ">": Interval(n, None, low_open=True), ">=": Interval(n, None)}[op]


def _split(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _choice(field: str, value, errors: dict):
    if not isinstance(value, str):
        errors[field] = "must be one of %s" % ", ".join(CHOICES[field])
        return None
    for choice in CHOICES[field]:
        if value.strip().lower() == choice.lower():
            return choice
    errors[field] = "%r is not one of %s" % (value, ", ".join(CHOICES[field]))
    return None


def _plain(number: Decimal, integer: bool):
    return int(number) if integer or number == number.to_integral_value() else float(number)


def _number(field: str, value, errors: dict, *, integer: bool, low: float, high: float):
    """A number, or a bound/range/about string in the contract's notation (kept as a normalised string)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        errors[field] = "must be a number, a bound (<12, <=6, >12, >=24), a range (6-12) or about a number (~6)"
        return None
    if isinstance(value, str) and NUMBER_NOTATION.match(value):
        m = NUMBER_NOTATION.match(value)
        numbers = [Decimal(x) for x in (m.group("n"), m.group("low"), m.group("high")) if x is not None]
        for n in numbers:
            if integer and n != n.to_integral_value():
                errors[field] = "must be whole numbers of years"
                return None
            if not (low <= n <= high):
                errors[field] = "must be between %s and %s" % (low, high)
                return None
        if m.group("op") == "<" and numbers[0] <= low:
            errors[field] = "no value is below %s" % low
            return None
        if m.group("op") == ">" and numbers[0] >= high:
            errors[field] = "no value is above %s" % high
            return None
        if m.group("low") is not None:
            a, b = numbers
            if a > b:
                errors[field] = "range %r: the lower end is above the upper" % value
                return None
            if a == b:
                return _plain(a, integer)
            return "%s-%s" % (_plain(a, integer), _plain(b, integer))
        return "%s%s" % (m.group("op"), _plain(numbers[0], integer))
    try:
        number = Decimal(str(value).strip())
    except Exception:
        errors[field] = ("%r is not a number, a bound (<12, <=6, >12, >=24), a range (6-12) or about a number (~6)"
                         % (value,))
        return None
    if not number.is_finite():
        errors[field] = "must be a finite number"
        return None
    if integer and number != number.to_integral_value():
        errors[field] = "must be a whole number of years"
        return None
    if not (low <= number <= high):
        errors[field] = "must be between %s and %s" % (low, high)
        return None
    return int(number) if integer else (int(number) if number == number.to_integral_value() else float(number))


def _boolean(field: str, value, errors: dict):
    """True/False, or None for unknown (JSON booleans, or true/false/yes/no/1/0/unknown as text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        if word in UNKNOWN_WORDS:
            return None
    errors[field] = "%r is not true or false" % (value,)
    return None


def mutation_gene(name: str) -> str:
    """The gene symbol a mutation name starts with (FLT3-ITD -> FLT3, IDH2 p.R172K -> IDH2)."""
    return re.split(r"[ -]", name, maxsplit=1)[0]


def _mutation_name(text: str) -> str:
    """The normal spelling of a mutation name: gene in capitals, one space before a protein change,
    a hyphenated variant name kept (FLT3-ITD), `p.` kept lower case."""
    text = re.sub(r"\s+", " ", text.strip())
    parts = re.split(r"([ -])", text, maxsplit=1)
    if len(parts) == 1:
        return text.upper()
    gene, sep, rest = parts
    if rest[:2].lower() == "p.":
        rest = "p." + rest[2:].upper()
    else:
        rest = rest.upper()
    return gene.upper() + sep + rest


def _mutations(field: str, value, errors: dict, *, variants: bool) -> list | None:
    """A mutation list; the words `none` (tested, none found: empty) and `unknown` (absent: None)."""
    items = _split(value)
    if len(items) == 1 and isinstance(items[0], str) and items[0].strip().lower() in MUTATION_WORDS:
        return [] if items[0].strip().lower() == "none" else None
    words = [g for g in items if isinstance(g, str) and g.strip().lower() in MUTATION_WORDS]
    if words:
        errors[field] = "%r stands alone: it cannot be combined with mutation names" % words[0].strip().lower()
        return None
    out = []
    pattern = MUTATION_NAME if variants else GENE_SYMBOL
    for g in items:
        if not isinstance(g, str) or not pattern.match(g.strip()):
            errors[field] = "%r is not a %s" % (g, "gene symbol or variant name" if variants else "gene symbol")
            return None
        name = _mutation_name(g) if variants else g.strip().upper()
        if name not in out:
            out.append(name)
    return out


def parse_profile(raw) -> Profile:
    """Validate and normalise a profile (query parameters or a JSON object).

    Missing fields stay missing (unknown), except `disease` and `site` which take the contract's
    defaults (named in `Profile.defaults`); a `prior_therapy` without a `disease` means APL (noted in
    `Profile.notes`). `mutations` absent = not known; a list (even empty) = the complete list of
    mutations found, unless `absent_mutations` (genes tested negative) is given too: then `mutations` lists
    the genes found, and a gene in neither list stays open.

    >>> parse_profile({"status": "Relapsed", "mutations": "idh1, FLT3", "age": "45"})
    {'disease': 'AML', 'status': 'relapsed', 'mutations': ['IDH1', 'FLT3'], 'age': 45, 'site': 'marrow'}
    >>> parse_profile({"status": "relapsed", "mutations": "flt3-itd", "remission_months": "< 12", "fit": "no"})
    {'disease': 'AML', 'status': 'relapsed', 'mutations': ['FLT3-ITD'], 'remission_months': '<12', 'site': 'marrow', 'fit': False}
    >>> parse_profile({"status": "gone", "age": -3})
    Traceback (most recent call last):
    ...
    kg_service.options.ProfileError: status: 'gone' is not one of refractory, relapsed; age: must be between 0 and 130
    """
    if not hasattr(raw, "get") or not hasattr(raw, "keys"):
        raise ProfileError({"profile": "must be an object of profile fields"})
    errors: dict[str, str] = {}
    unknown = sorted(set(raw.keys()) - set(PROFILE_FIELDS))
    for name in unknown:
        errors[name] = "not a profile field (fields: %s)" % ", ".join(PROFILE_FIELDS)
    out: dict = {}
    defaults, notes = [f for f in DEFAULTS if raw.get(f) in (None, "")], []
    prior = None
    if raw.get("prior_therapy") not in (None, ""):
        prior = _choice("prior_therapy", raw.get("prior_therapy"), errors)
    disease = raw.get("disease")
    if disease in (None, "") and prior in PRIOR_THERAPY_DISEASE:
        disease = PRIOR_THERAPY_DISEASE[prior]
        defaults.remove("disease")
        notes.append("disease %s was inferred from prior therapy %s (an initial %s treatment); "
                     "say disease if that is wrong" % (disease, prior, disease))
    out["disease"] = _choice("disease", disease or DEFAULTS["disease"], errors)
    if prior in PRIOR_THERAPY_DISEASE and out["disease"] and out["disease"] != PRIOR_THERAPY_DISEASE[prior]:
        message = "prior therapy %s is an initial %s treatment, but disease is %s" % (
            prior, PRIOR_THERAPY_DISEASE[prior], out["disease"])
        errors["disease"] = errors["prior_therapy"] = message
    if raw.get("status") in (None, ""):
        errors["status"] = "required: refractory or relapsed"
    else:
        out["status"] = _choice("status", raw.get("status"), errors)
    if raw.get("mutations") is not None:
        found = _mutations("mutations", raw.get("mutations"), errors, variants=True)
        if found is not None:
            out["mutations"] = found
    if raw.get("absent_mutations") is not None:
        absent = _mutations("absent_mutations", raw.get("absent_mutations"), errors, variants=False)
        if absent is not None:  # even empty: `mutations` is then the genes found, not the complete list
            out["absent_mutations"] = absent
            both = sorted({mutation_gene(m) for m in out.get("mutations", [])} & set(absent))
            if both:
                errors["mutations"] = errors["absent_mutations"] = (
                    "%s is both found (mutations) and tested negative (absent_mutations)" % ", ".join(both))
    if raw.get("remission_months") not in (None, ""):
        out["remission_months"] = _number("remission_months", raw.get("remission_months"), errors,
                                          integer=False, low=0, high=1200)
    if raw.get("age") not in (None, ""):
        out["age"] = _number("age", raw.get("age"), errors, integer=True, low=0, high=130)
    if prior is not None:
        out["prior_therapy"] = prior
    out["site"] = _choice("site", raw.get("site") or DEFAULTS["site"], errors)
    if raw.get("symptoms") not in (None, ""):
        symptoms = []
        for s in _split(raw.get("symptoms")):
            choice = _choice("symptoms", s, errors)
            if choice and choice not in symptoms:
                symptoms.append(choice)
        out["symptoms"] = symptoms
    for field in BOOLEAN_FIELDS:
        if field in raw and raw.get(field) is not None:
            value = _boolean(field, raw.get(field), errors)
            if value is not None:
                out[field] = value
    if errors:
        raise ProfileError(errors)
    return Profile(out, defaults=defaults, notes=notes)


def profile_key(profile: dict) -> tuple:
    """A hashable, order-independent key of a normalised profile (for caches and ETags); what was
    defaulted or inferred is part of it, since the answer says so."""
    items = tuple((k, tuple(sorted(v)) if isinstance(v, list) else v) for k, v in sorted(profile.items()))
    return items + (("defaults", tuple(getattr(profile, "defaults", ()))),
                    ("notes", tuple(getattr(profile, "notes", ()))))


@dataclass
class Vocabulary:
    """Profile fields -> factor IRIs, codes <-> classes, variant names -> classes, as the graph defines them."""
    factors: dict[str, URIRef]
    codes: dict[str, URIRef]
    code_of: dict[URIRef, str]
    labels: dict[URIRef, str]
    variants: dict[str, URIRef] = _field(default_factory=dict)

    def code(self, text: str) -> URIRef | None:
        return self.codes.get(str(text).lower())

    def mutation(self, name: str) -> tuple[URIRef | None, str | None]:
        """The class a mutation name is matched as, and a warning when it is not known exactly: a gene
        symbol or a known variant (FLT3-ITD, IDH2 p.R172K) is its own class; an unknown variant of a
        known gene is the gene's mutation class (the document speaks of the gene's mutations)."""
        iri = self.code(name) or self.variants.get(variant_key(name))
        if iri is not None:
            return iri, None
        gene = mutation_gene(name)
        gene_iri = self.code(gene) if gene != name else None
        if gene_iri is not None:
            return gene_iri, ("mutation %s: not a variant the graph knows; it is matched as a %s mutation, "
                              "which the document's statements speak of" % (name, gene))
        return None, "mutation %s: the document names no option for it" % name


def variant_key(name: str) -> str:
    """A mutation name compared without case, spaces, hyphens or a protein `p.` (IDH2 p.R172K = idh2-r172k)."""
    return re.sub(r"[^A-Z0-9*>_]", "", re.sub(r"(?i)(^|[ -])p\.", r"\1", name.strip()).upper())


def read_snapshot(store: Store, queries: dict[str, NamedQuery]) -> Snapshot:
    """The finder's part of a graph version's snapshot: vocabulary, recommendation details, approvals
    and numeric thresholds (the other fields are filled by the steps added to `Snapshots`)."""
    version = store.graph_version()
    return Snapshot(version, read_vocabulary(store, queries), read_details(store, queries),
                    read_approvals(store, queries), condition_bounds(store, queries))


def read_vocabulary(store: Store, queries: dict[str, NamedQuery]) -> Vocabulary:
    rows = store.select(queries["profile-vocabulary"].text)
    factors, codes, code_of, labels = {}, {}, {}, {}
    for r in rows:
        if "field" in r:
            factors[str(r["field"])] = r["factor"]
        if "code" in r:
            codes[str(r["code"]).lower()] = r["value"]
            code_of[r["value"]] = str(r["code"])
            labels[r["value"]] = str(r["label"])
    variants, names = {}, {}
    for r in store.select(queries["mutation-variants"].text):
        variants[variant_key(str(r["name"]))] = r["variant"]
        names.setdefault(r["variant"], []).append(str(r["name"]))
    for variant, spellings in names.items():
        # the shortest spelling names it in `why` (FLT3-ITD, IDH2 R172K)
        code_of.setdefault(variant, min(spellings, key=lambda s: (len(s), "p." in s, "-" in s, s)))
    return Vocabulary(factors, codes, code_of, labels, variants)


def read_details(store: Store, queries: dict[str, NamedQuery]) -> dict:
    out = {}
    for r in store.select(queries["recommendations"].text, {"recommendation": None}):
        rec = str(r["recommendation"])
        if rec in out:
            continue
        brands = [b for b in str(r.get("brands", "")).split(" | ") if b]
        xref_iris = [x for x in str(r.get("xrefs", "")).split(" | ") if x]
        out[rec] = {
            "order": int(r["order"]),
            "rank": int(r["strengthRank"]),
            "therapy": {"id": str(r["therapy"]), "label": str(r["therapyLabel"]),
                        "brand": brands[0] if brands else None, "brands": brands,
                        "kind": str(r["kindLabel"]) if "kindLabel" in r else None,
                        "xrefs": xref_keys(xref_iris), "xref_iris": xref_iris},
            "strength": str(r["strength"]),
            "strength_wording": str(r["wording"]),
            "caveat": str(r["caveat"]) if "caveat" in r else None,
            "note": str(r["note"]) if "note" in r else None,
            "combined_with": [c for c in str(r.get("combinedWith", "")).split(" | ") if c],
            "follows": [],
            "source": {"quote": str(r["quote"]), "section": str(r["section"]),
                       "document": str(r["document"]), "title": str(r["documentTitle"]),
                       "revised": str(r["revised"])},
        }
    for r in store.select(queries["escalation"].text):
        if str(r["recommendation"]) in out:
            out[str(r["recommendation"])]["follows"].append(str(r["follows"]))
    return out


def read_approvals(store: Store, queries: dict[str, NamedQuery]) -> dict:
    out: dict[str, list] = {}
    for r in store.select(queries["approvals"].text, {"after_revision": None, "drug": None}):
        out.setdefault(str(r["drug"]), []).append({
            "date": str(r["date"]), "indication": str(r["indication"]),
            "biomarker": str(r["biomarker"]) if "biomarker" in r else None,
            "companion_diagnostic": str(r["companionDiagnostic"]) if "companionDiagnostic" in r else None,
            "application": str(r["application"]) if "application" in r else None,
            "after_document_revision": str(r["afterRevision"]).lower() == "true"})
    return out


class OptionsFinder:
    """Answers profiles from one store, from its graph version's snapshot (`kg_service.snapshot`).
    Answers are not kept here: the API's result cache (`kg_service.cache`) is the one LRU of answers."""

    def __init__(self, store_getter, queries: dict[str, NamedQuery] | None = None,
                 snapshots: Snapshots | None = None):
        self._store_getter = store_getter
        self.queries = queries or load_all()
        self.snapshots = snapshots or Snapshots(lambda store: read_snapshot(store, self.queries))
        self._lock = threading.Lock()
        #: (graph version, part key) being read now, each with the event its reader sets when done
        #: (`_read_missing`)
        self._reading: dict = {}

    def snapshot(self, store: Store | None = None) -> Snapshot:
        """The snapshot of the store's current graph version (built once per version)."""
        return self.snapshots.get(store or self._store_getter())

    def prefill(self, store: Store, snap: Snapshot) -> dict:
        """Read ahead the parts of every single stated value (each code, each side of every threshold,
        yes and no) in a few queries: a worker's first profiles then mostly cost no query. A step of
        the snapshot's build (`kg_service.services`); returns the snapshot's parts."""
        wanted: dict = {}
        for profile in _prefill_profiles(snap):
            rows, _warnings = self.profile_rows(profile, snap.vocabulary)
            absent, _more = self.absent_rows(profile, snap.vocabulary)
            for part in self._parts_of(snap, profile, rows, absent):
                wanted.setdefault(part[0], part)
        self._read_parts(store, snap, [part for key, part in wanted.items() if key not in snap.parts])
        return snap.parts

    # -- per profile -----------------------------------------------------------------------------
    def profile_rows(self, profile: dict, vocab: Vocabulary) -> tuple[list[tuple], list[str]]:
        """The profile as (factor, value) rows to bind, and warnings for what the graph does not know.
        A number stated as a bound or range is not a row: `options_for` matches it side by side of
        every threshold. Genes tested negative are `absent_rows`."""
        rows, warnings = [], []
        for name in PROFILE_FIELDS:
            if name not in profile or name == "absent_mutations":
                continue
            factor = vocab.factors.get(name)
            if factor is None:
                warnings.append("the graph has no factor for %s; it was ignored" % name)
                continue
            value = profile[name]
            if name in NUMBER_FIELDS:
                if not isinstance(value, str):
                    rows.append((factor, _decimal(value)))
                continue
            if name in BOOLEAN_FIELDS:
                rows.append((factor, Literal(bool(value))))
                continue
            values = value if isinstance(value, list) else [value]
            stated = False
            for v in values:
                if name == "mutations":
                    iri, warning = vocab.mutation(v)
                    if warning:
                        warnings.append(warning)
                else:
                    iri = vocab.code(v)
                    if iri is None:
                        warnings.append("%s %s is not known to the graph" % (name, v))
                if iri is not None:
                    rows.append((factor, iri))
                    stated = True
            if not stated and name in ("mutations", "symptoms"):
                # stated, but nothing the graph knows: conditions on this factor are not met
                rows.append((factor, Literal("none-known")))
        return rows, warnings

    def absent_rows(self, profile: dict, vocab: Vocabulary) -> tuple[list[tuple], list[str]]:
        """(factor, mutation class) rows for the genes tested negative, and warnings for unknown genes."""
        rows, warnings = [], []
        factor = vocab.factors.get("mutations")
        for gene in profile.get("absent_mutations", []):
            iri = vocab.code(gene)
            if iri is None or factor is None:
                warnings.append("absent mutation %s: the document names no option for it" % gene)
            else:
                rows.append((factor, iri))
        return rows, warnings

    def bindings(self, profile: dict, vocab: Vocabulary) -> tuple[dict, list[str]]:
        """The profile bound for `queries/options.rq` in one query (the named-query route uses this)."""
        rows, warnings = self.profile_rows(profile, vocab)
        absent, more = self.absent_rows(profile, vocab)
        # with genes tested negative given (even none), the mutations found are not the complete list
        partial = {vocab.factors.get("mutations")} if "absent_mutations" in profile else set()
        return {("factor", "value"): rows, ("factor", "complete"): [r for r in rows if r[0] not in partial],
                ("factor", "absent"): absent}, warnings + more

    def find(self, profile: dict) -> dict:
        """The answer for a validated profile (see parse_profile), as the contract shapes it."""
        store = self._store_getter()
        snap = self.snapshot(store)
        rows, warnings = self.profile_rows(profile, snap.vocabulary)
        absent, more = self.absent_rows(profile, snap.vocabulary)
        return {
            "profile": dict(profile),
            "defaults": list(getattr(profile, "defaults", [])),
            "options": self.options_for(store, snap, profile, rows, absent),
            "warnings": list(getattr(profile, "notes", [])) + warnings + more,
            "disclaimer": DISCLAIMER,
            "graph_version": snap.version,
        }

    def options_for(self, store: Store, snap: Snapshot, profile: dict, rows: list[tuple],
                    absent: list[tuple] = ()) -> list[dict]:
        """The options for a profile. Profiles in the same situation (the same part keys, see
        `condition_rows`) share one assembled list; only the numbers quoted in `why` are their own."""
        parts = self._parts_of(snap, profile, rows, absent)
        situation = tuple(key for key, _factor, _values, _absent in parts)
        template = snap.situations.get(situation)
        if template is None:
            result = self._rows_of(store, snap, parts)
            template = assemble(result, snap.details, snap.approvals, snap.vocabulary,
                                {**profile, **_NUMBER_SLOTS})
            with self._lock:
                if len(snap.situations) > MAX_PARTS:
                    snap.situations.clear()
                snap.situations[situation] = template
        return fill_numbers(template, profile)

    def condition_rows(self, store: Store, snap: Snapshot, profile: dict, rows: list[tuple],
                       absent: list[tuple] = ()) -> list[dict]:
        """The rows of `queries/options.rq` for a profile, assembled from per-factor parts.

        A condition's state depends only on what the profile states for that condition's own factor,
        so the rows of each factor are read once per distinct value set (numbers: once per side of
        every threshold) and shared by every profile that states the same; a new profile then costs
        no query once its parts are known. `tests/test_options.py` checks this equals one query with
        the whole profile bound.
        """
        return self._rows_of(store, snap, self._parts_of(snap, profile, rows, absent))

    @staticmethod
    def _parts_of(snap: Snapshot, profile: dict, rows: list[tuple], absent=()) -> list[tuple]:
        """(part key, factor, values stated for it, values ruled out for it) for every factor, the
        unsettled part first. A number given as a bound or range has one part per region (between
        and on the thresholds) it reaches; `_rows_of` combines them."""
        stated: dict = {}
        for factor, value in rows:
            stated.setdefault(factor, []).append(value)
        negative: dict = {}
        for factor, value in absent:
            negative.setdefault(factor, []).append(value)
        parts = [(("unsettled",), None, [], [])]
        for name, factor in snap.vocabulary.factors.items():
            values, ruled_out = stated.get(factor, []), negative.get(factor, [])
            if name in snap.bounds:
                given = profile.get(name)
                if isinstance(given, str):
                    for point in region_points(interval_of(given), snap.bounds[name]):
                        parts.append(((str(factor), side_of_bounds(point, snap.bounds[name])), factor,
                                      [_decimal(point)], []))
                    continue
                key = (str(factor), side_of_bounds(given, snap.bounds[name]))
            else:
                key = (str(factor), tuple(sorted(v.n3() for v in values)), tuple(sorted(v.n3() for v in ruled_out)))
                if name == "mutations" and "absent_mutations" in profile:
                    key += ("partial",)  # the genes found, not the complete list (see `_read_parts`)
            parts.append((key, factor, values, ruled_out))
        return parts

    def _rows_of(self, store: Store, snap: Snapshot, parts: list[tuple]) -> list[dict]:
        known = {part[0]: snap.parts.get(part[0]) for part in parts}
        missing = [part for part in parts if known[part[0]] is None]
        if missing:
            known.update(self._read_missing(store, snap, missing))
        by_factor: dict = {}
        for key, factor, _values, _ruled_out in parts:
            by_factor.setdefault(factor, []).append(known[key])
        result: list[dict] = []
        for found in by_factor.values():
            result.extend(found[0] if len(found) == 1 else combine_regions(found))
        return result

    def _read_missing(self, store: Store, snap: Snapshot, missing: list[tuple]) -> dict:
        """The rows of parts not in the snapshot yet, each read by one request only: a request that
        finds a part being read by another waits for that read (profiles arriving together share a
        new part, and a query each would queue them all behind the query gate)."""
        mine, theirs = [], []
        with self._lock:
            for part in missing:
                reading = self._reading.get((snap.version, part[0]))
                if reading is not None:
                    theirs.append((part, reading))
                else:
                    self._reading[(snap.version, part[0])] = threading.Event()
                    mine.append(part)
        read: dict = {}
        try:
            if mine:
                read = self._read_parts(store, snap, mine)
        finally:
            with self._lock:
                for part in mine:
                    self._reading.pop((snap.version, part[0])).set()
        for part, done in theirs:
            done.wait(READ_WAIT_SECONDS)
            rows = snap.parts.get(part[0])
            read[part[0]] = rows if rows is not None else self._read_parts(store, snap, [part])[part[0]]
        return read

    def _read_parts(self, store: Store, snap: Snapshot, parts: list[tuple]) -> dict:
        """options.rq rows of each part (factor None: the conditions no profile field settles, whose
        state never changes), remembered in the snapshot. Parts of different factors are read in one
        query, since a condition's state depends only on its own factor's values (`condition_rows`)."""
        field_factors = {factor: name for name, factor in snap.vocabulary.factors.items()}
        batches: list[dict] = []
        for part in dict((p[0], p) for p in parts).values():
            batch = next((b for b in batches if part[1] not in b), None)
            if batch is None:
                batch = {}
                batches.append(batch)
            batch[part[1]] = part
        read: dict = {}
        for batch in batches:
            value, complete, absent = [], [], []
            for key, factor, values, ruled_out in batch.values():
                value += [(factor, v) for v in values]
                if key[-1:] != ("partial",):
                    complete += [(factor, v) for v in values]
                absent += [(factor, v) for v in ruled_out]
            found = store.select(self.queries["options"].text, {("factor", "value"): value,
                                                               ("factor", "complete"): complete,
                                                               ("factor", "absent"): absent})
            for key, factor, _values, _ruled_out in batch.values():
                if factor is None:
                    read[key] = [r for r in found if r.get("factor") not in field_factors]
                else:
                    read[key] = [r for r in found if r.get("factor") == factor]
        with self._lock:
            if len(snap.parts) > MAX_PARTS:
                snap.parts.clear()
            snap.parts.update(read)
        return read


def _prefill_profiles(snap: Snapshot) -> list[Profile]:
    """One profile per single value worth reading ahead (see `OptionsFinder.prefill`)."""
    raws = [{}]
    for name in ("disease", "status", "prior_therapy", "site", "symptoms"):
        raws += [{name: choice} for choice in CHOICES[name]]
    chosen = {c.lower() for choices in CHOICES.values() for c in choices}
    raws += [{"mutations": code} for code in sorted(snap.vocabulary.codes)
             if code not in chosen and GENE_SYMBOL.match(code)]
    raws += [{"mutations": "none"}]
    for name, bounds in snap.bounds.items():
        if name in NUMBER_FIELDS:
            raws += [{name: str(point)} for point in region_points(interval_of(">=0"), bounds)]
    raws += [{name: flag} for name in BOOLEAN_FIELDS for flag in (True, False)]
    profiles = []
    for raw in raws:
        if raw.get("prior_therapy"):
            raw["disease"] = PRIOR_THERAPY_DISEASE[raw["prior_therapy"]]
        try:
            profiles.append(parse_profile({"status": "relapsed", **raw}))
        except ProfileError:
            continue
    return profiles

MAX_PARTS = 20_000
#: the longest a request waits for another's read of the same part before reading it itself (the
#: other's read failed, or was cut at its time limit)
READ_WAIT_SECONDS = 30.0


def _decimal(value) -> Literal:
    # xsd:decimal as the store computes it (oxigraph keeps 18 places): more digits make an ill-typed
    # literal whose comparisons fail, so 1e-308 months is bound as 0
    number = Decimal(format(Decimal(str(value)).quantize(Decimal("1e-12")).normalize(), "f"))
    return Literal(number, datatype=XSD.decimal)


def condition_bounds(store: Store, queries: dict[str, NamedQuery]) -> dict[str, list[Decimal]]:
    """The numeric thresholds the conditions use, per profile field (`queries/condition-bounds.rq`)."""
    bounds: dict[str, set] = {}
    for r in store.select(queries["condition-bounds"].text):
        bounds.setdefault(str(r["field"]), set()).add(Decimal(str(r["bound"])))
    return {f: sorted(b) for f, b in bounds.items()}


def side_of_bounds(value, bounds: list[Decimal]) -> tuple | None:
    """Where `value` lies relative to each bound (-1 below, 0 on, 1 above); None when not given.

    >>> side_of_bounds(8, [Decimal(6), Decimal(12)]), side_of_bounds(12.0, [Decimal(6), Decimal(12)])
    ((1, -1), (1, 0))
    """
    if value is None:
        return None
    v = Decimal(str(value))
    return tuple(-1 if v < b else 0 if v == b else 1 for b in bounds)


def region_points(interval: Interval, bounds: list[Decimal]) -> list[Decimal]:
    """One number for each region (below, on, between, above the thresholds) the interval reaches: every
    number of a region meets the same conditions, so these stand for the whole interval.

    >>> region_points(interval_of("<12"), [Decimal(6), Decimal(12)])
    [Decimal('3'), Decimal('6'), Decimal('9')]
    >>> region_points(interval_of(">=12"), [Decimal(6), Decimal(12)])
    [Decimal('12'), Decimal('13')]
    """
    edges = [None] + list(bounds) + [None]
    points = []
    for i, b in enumerate(bounds):
        low = edges[i]
        if interval.overlaps(low, b):
            points.append(b / 2 if low is None and b > 0 else b - 1 if low is None else (low + b) / 2)
        if interval.contains(b):
            points.append(b)
    if not bounds or interval.overlaps(bounds[-1], None):
        points.append(bounds[-1] + 1 if bounds else (interval.low or interval.high or Decimal(0)))
    return points


def combine_regions(found: list[list[dict]]) -> list[dict]:
    """A condition's state over several regions of a bound: the same everywhere, or else open (the
    bound does not decide it; `given` dropped)."""
    by_condition: dict = {}
    for rows in found:
        for r in rows:
            by_condition.setdefault(str(r["condition"]), []).append(r)
    out = []
    for rows in by_condition.values():
        states = {str(r["state"]) for r in rows}
        if len(states) == 1:
            out.append(rows[0])
        else:
            out.append({k: v for k, v in rows[0].items() if k != "given"} | {"state": Literal("open")})
    return out


#: stand-ins for the profile's numbers in a situation's shared options (see `fill_numbers`)
_NUMBER_SLOTS = {"remission_months": "\x00remission_months\x00", "age": "\x00age\x00"}


def fill_numbers(template: list[dict], profile: dict) -> list[dict]:
    """A situation's options with this profile's numbers in the `why` and `outside` texts (options
    without a number are shared as they are; answers are never changed after they are made).

    >>> t = [{"why": ["age %s: 60 or older" % _NUMBER_SLOTS["age"]], "outside": []}, {"why": ["mutation IDH1 matches"]}]
    >>> filled = fill_numbers(t, {"age": 71.0})
    >>> filled[0]["why"], filled[1] is t[1]
    (['age 71: 60 or older'], True)
    """
    out = []
    for option in template:
        texts = {k: option.get(k) or [] for k in ("why", "outside")}
        if any("\x00" in w for ws in texts.values() for w in ws):
            for name, slot in _NUMBER_SLOTS.items():
                number = _plain_number(profile.get(name))
                texts = {k: [w.replace(slot, number) for w in ws] for k, ws in texts.items()}
            option = {**option, **{k: v for k, v in texts.items() if k in option}}
        out.append(option)
    return out


def _value_text(name: str, given, vocab: Vocabulary, profile: dict) -> str:
    if name in NUMBER_FIELDS:
        return _plain_number(profile.get(name))
    if name in BOOLEAN_FIELDS:
        value = profile.get(name) if given is None else str(given).lower() == "true"
        return "yes" if value else "no"
    return vocab.code_of.get(given, str(given)) if given is not None else "?"


def _why(name: str, given, vocab: Vocabulary, profile: dict, text: str) -> str:
    label = WHY_NAMES.get(name, name)
    if name in NUMBER_FIELDS or name in BOOLEAN_FIELDS:
        return "%s %s: %s" % (label, _value_text(name, given, vocab, profile), text)
    return "%s %s matches" % (label, _value_text(name, given, vocab, profile))


def _outside(name: str, vocab: Vocabulary, profile: dict, text: str, soft: str) -> str:
    value = _value_text(name, None, vocab, profile) if name in profile else "?"
    return "%s %s: outside the usual bound (%s): %s" % (WHY_NAMES.get(name, name), value, soft, text)


def _plain_number(value) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


#: how an option's situation matched, best first (see `assemble`)
MATCHES = ("holds", "open", "outside")
NOT_LIKELY_HELPFUL = "not likely helpful"


def assemble(rows: list[dict], details: dict, approvals: dict, vocab: Vocabulary, profile: dict) -> list[dict]:
    """Group condition states by recommendation, drop those with an unmet condition, shape and order.

    The order (README, "Options finder semantics"): what the document says is not likely helpful
    last; before that, options whose every condition on the person's situation (disease, status,
    mutations, remission, age, prior therapy, site, symptoms) holds, then those with such a condition
    open, then those outside a usual bound; within each, strongest first, then the options matching
    more facts, then document order. A step the document orders after another (`follows`) is moved
    after it. Conditions no profile settles, and fitness, donor, prior transplant, keeps coming back
    when unstated, are listed but do not reorder.
    """
    by_rec: dict[str, dict] = {}
    # in document order of the conditions, whatever order the rows came in
    rows = sorted(rows, key=lambda r: (str(r["recommendation"]), int(r["order"]), str(r.get("given", ""))))
    for r in rows:
        rec = str(r["recommendation"])
        entry = by_rec.setdefault(rec, {"unmet": False, "conditions": [], "why": [], "outside": [], "match": 0})
        state, name = str(r["state"]), str(r.get("field", ""))
        if state == "unmet":
            entry["unmet"] = True
        elif state == "outside":
            entry["outside"].append(_outside(name, vocab, profile, str(r["text"]), str(r.get("soft", ""))))
            entry["match"] = 2
        elif state == "open":
            entry["conditions"].append(str(r["text"]))
            if name and name not in BOOLEAN_FIELDS:
                entry["match"] = max(entry["match"], 1)
        else:
            entry["why"].append(_why(name, r.get("given"), vocab, profile, str(r["text"])))
    options = []
    for rec, entry in by_rec.items():
        if entry["unmet"] or rec not in details:
            continue
        d = details[rec]
        options.append({
            "therapy": d["therapy"],
            "recommendation": rec,
            "strength": d["strength"],
            "strength_wording": d["strength_wording"],
            "caveat": d["caveat"],
            "combined_with": d["combined_with"],
            "conditions": entry["conditions"],
            "why": entry["why"],
            "match": MATCHES[entry["match"]],
            "outside": entry["outside"],
            "note": d["note"],
            "source": d["source"],
            "fda_approvals": approvals.get(d["therapy"]["id"], []),
            "_sort": (d["strength"] == NOT_LIKELY_HELPFUL, entry["match"], d["rank"], -len(entry["why"]), d["order"]),
        })
    options.sort(key=lambda o: o.pop("_sort"))
    return keep_document_steps(options, details)


def merge_answers(answers: list[dict]) -> dict:
    """One answer for several profiles (a question naming both statuses as alternatives): the first
    answer's options in its order, then the others' not yet listed; each answer's warnings once;
    `profile` lists each profile answered under `profiles`."""
    first = answers[0]
    seen, options, warnings = set(), [], []
    for answer in answers:
        for o in answer["options"]:
            if o["recommendation"] not in seen:
                seen.add(o["recommendation"])
                options.append(o)
        warnings += [w for w in answer["warnings"] if w not in warnings]
    profile = dict(first["profile"])
    if len(answers) > 1:
        profile["status"] = [a["profile"]["status"] for a in answers]
        warnings.insert(0, "answered for both statuses (%s): the options of each are listed"
                        % " and ".join(profile["status"]))
    return {**first, "profile": profile, "options": options, "warnings": warnings,
            "profiles": [a["profile"] for a in answers]}


def keep_document_steps(options: list[dict], details: dict) -> list[dict]:
    """Move every option the document orders after others (`follows`) to just after the last of them."""
    moved = True
    while moved:
        moved = False
        position = {o["recommendation"]: i for i, o in enumerate(options)}
        for i, o in enumerate(options):
            before = [position[p] for p in details[o["recommendation"]]["follows"] if p in position]
            if before and max(before) > i:
                options.insert(max(before), options.pop(i))
                moved = True
                break
    return options
