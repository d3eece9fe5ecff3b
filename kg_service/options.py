"""The options finder: a patient profile in, the document's options for it out, each with its quote.

The matching itself is SPARQL (`queries/options.rq`: one state per condition); this module validates
the profile, binds it as typed (factor, value) rows, and shapes the rows into the contract's answer.
What changes only with the graph (recommendation details, vocabulary, approvals) is read once per
graph version.
"""
from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from . import DISCLAIMER
from .named_queries import NamedQuery, load_all
from .store import Store
from .xrefs import xref_keys

PROFILE_FIELDS = ("disease", "status", "mutations", "remission_months", "age", "prior_therapy", "site",
                  "symptoms", "absent_mutations")
# the contract's value sets (CONTRACT.md, "Profile fields"); codes map to classes through the graph
CHOICES = {
    "disease": ("AML", "APL"),
    "status": ("refractory", "relapsed"),
    "prior_therapy": ("ATRA+ATO", "ATRA+chemo"),
    "site": ("marrow", "cns"),
    "symptoms": ("pain", "low_blood_counts", "fatigue", "nausea", "appetite_loss", "infection"),
}
DEFAULTS = {"disease": "AML", "site": "marrow"}
#: words `mutations` takes instead of gene symbols (contract, "Additions")
MUTATION_WORDS = ("none", "unknown")
GENE_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,15}$")
WHY_NAMES = {"disease": "disease", "status": "status", "mutations": "mutation", "prior_therapy": "prior therapy",
             "site": "site", "symptoms": "symptom", "remission_months": "remission (months)", "age": "age"}


class ProfileError(ValueError):
    """The profile has malformed fields; `errors` maps each bad field to the reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join("%s: %s" % kv for kv in errors.items()))
        self.errors = errors


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


def _number(field: str, value, errors: dict, *, integer: bool, low: float, high: float):
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        errors[field] = "must be a number"
        return None
    try:
        number = Decimal(str(value).strip())
    except Exception:
        errors[field] = "%r is not a number" % (value,)
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


def parse_profile(raw) -> dict:
    """Validate and normalise a profile (query parameters or a JSON object).

    Missing fields stay missing (unknown), except `disease` and `site` which take the contract's
    defaults. `mutations` is kept as given: absent = not known; a list (even empty) = the complete
    list of mutations found.

    >>> parse_profile({"status": "Relapsed", "mutations": "idh1, FLT3", "age": "45"})
    {'disease': 'AML', 'status': 'relapsed', 'mutations': ['IDH1', 'FLT3'], 'age': 45, 'site': 'marrow'}
    >>> parse_profile({"status": "relapsed", "mutations": "none"})["mutations"], "mutations" in parse_profile(
    ...     {"status": "relapsed", "mutations": ["unknown"]})
    ([], False)
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
    out["disease"] = _choice("disease", raw.get("disease") or DEFAULTS["disease"], errors)
    if raw.get("status") in (None, ""):
        errors["status"] = "required: refractory or relapsed"
    else:
        out["status"] = _choice("status", raw.get("status"), errors)
    words = [w.strip().lower() for w in _split(raw.get("mutations")) if isinstance(w, str)] \
        if raw.get("mutations") is not None else []
    said = [w for w in words if w in MUTATION_WORDS]
    if said:  # `none` = tested, none found; `unknown` = absent
        if len(words) > 1:
            errors["mutations"] = "%r stands alone: it cannot be combined with gene symbols" % said[0]
        elif said[0] == "none":
            out["mutations"] = []
    elif "mutations" in raw and raw.get("mutations") is not None:
        genes = []
        for g in _split(raw.get("mutations")):
            if not isinstance(g, str) or not GENE_SYMBOL.match(g.strip()):
                errors["mutations"] = "%r is not a gene symbol" % (g,)
                break
            if g.strip().upper() not in genes:
                genes.append(g.strip().upper())
        out["mutations"] = genes
    if "absent_mutations" in raw and raw.get("absent_mutations") is not None:
        # genes tested and not mutated; with it, `mutations` lists the genes found and any gene in
        # neither list stays unknown (its conditions open): a record that tested only FLT3 says
        # nothing about IDH1
        absent = []
        for g in _split(raw.get("absent_mutations")):
            if not isinstance(g, str) or not GENE_SYMBOL.match(g.strip()):
                errors["absent_mutations"] = "%r is not a gene symbol" % (g,)
                break
            if g.strip().upper() not in absent:
                absent.append(g.strip().upper())
        clash = sorted(set(absent) & set(out.get("mutations") or ()))
        if clash:
            errors["absent_mutations"] = "%s also listed in mutations" % ", ".join(clash)
        out["absent_mutations"] = absent
    if raw.get("remission_months") not in (None, ""):
        out["remission_months"] = _number("remission_months", raw.get("remission_months"), errors,
                                          integer=False, low=0, high=1200)
    if raw.get("age") not in (None, ""):
        out["age"] = _number("age", raw.get("age"), errors, integer=True, low=0, high=130)
    if raw.get("prior_therapy") not in (None, ""):
        out["prior_therapy"] = _choice("prior_therapy", raw.get("prior_therapy"), errors)
    out["site"] = _choice("site", raw.get("site") or DEFAULTS["site"], errors)
    if raw.get("symptoms") not in (None, ""):
        symptoms = []
        for s in _split(raw.get("symptoms")):
            choice = _choice("symptoms", s, errors)
            if choice and choice not in symptoms:
                symptoms.append(choice)
        out["symptoms"] = symptoms
    if errors:
        raise ProfileError(errors)
    return out


def profile_key(profile: dict) -> tuple:
    """A hashable, order-independent key of a normalised profile (for caches and ETags)."""
    return tuple((k, tuple(sorted(v)) if isinstance(v, list) else v) for k, v in sorted(profile.items()))


@dataclass
class Vocabulary:
    """Profile fields -> factor IRIs, codes <-> classes, as the graph defines them."""
    factors: dict[str, URIRef]
    codes: dict[str, URIRef]
    code_of: dict[URIRef, str]
    labels: dict[URIRef, str]

    def code(self, text: str) -> URIRef | None:
        return self.codes.get(str(text).lower())


class OptionsFinder:
    """Answers profiles from one store; caches per graph version."""

    def __init__(self, store_getter, queries: dict[str, NamedQuery] | None = None, cache_size: int = 4096):
        self._store_getter = store_getter
        self.queries = queries or load_all()
        self._static: dict = {}
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- what changes only with the graph ------------------------------------------------------
    def graph_facts(self, store: Store | None = None) -> dict:
        """What the answers need that changes only with the graph: vocabulary, recommendation details,
        approvals, numeric thresholds, and the condition rows already read (see `condition_rows`)."""
        store = store or self._store_getter()
        version = store.graph_version()
        facts = self._static.get(version)
        if facts is None:
            facts = {"version": version,
                     "vocabulary": self._vocabulary(store),
                     "details": self._details(store),
                     "approvals": self._approvals(store),
                     "bounds": self._bounds(store),
                     "parts": {},
                     "situations": {}}
            with self._lock:
                self._static = {version: facts}
                self._cache.clear()
        return facts

    _graph_facts = graph_facts  # the name the api and ui areas first used

    def _bounds(self, store: Store) -> dict[str, list[Decimal]]:
        return condition_bounds(store, self.queries)

    def _vocabulary(self, store: Store) -> Vocabulary:
        rows = store.select(self.queries["profile-vocabulary"].text)
        factors, codes, code_of, labels = {}, {}, {}, {}
        for r in rows:
            if "field" in r:
                factors[str(r["field"])] = r["factor"]
            if "code" in r:
                codes[str(r["code"]).lower()] = r["value"]
                code_of[r["value"]] = str(r["code"])
                labels[r["value"]] = str(r["label"])
        return Vocabulary(factors, codes, code_of, labels)

    def _details(self, store: Store) -> dict:
        out = {}
        for r in store.select(self.queries["recommendations"].text, {"recommendation": None}):
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
                "source": {"quote": str(r["quote"]), "section": str(r["section"]),
                           "document": str(r["document"]), "title": str(r["documentTitle"]),
                           "revised": str(r["revised"])},
            }
        return out

    def _approvals(self, store: Store) -> dict:
        out: dict[str, list] = {}
        query = self.queries["approvals"]
        for r in store.select(query.text, {"after_revision": None, "drug": None}):
            out.setdefault(str(r["drug"]), []).append({
                "date": str(r["date"]), "indication": str(r["indication"]),
                "biomarker": str(r["biomarker"]) if "biomarker" in r else None,
                "companion_diagnostic": str(r["companionDiagnostic"]) if "companionDiagnostic" in r else None,
                "application": str(r["application"]) if "application" in r else None,
                "after_document_revision": str(r["afterRevision"]).lower() == "true"})
        return out

    # -- per profile -----------------------------------------------------------------------------
    def profile_rows(self, profile: dict, vocab: Vocabulary) -> tuple[list[tuple], list[str]]:
        """The profile as (factor, value) rows to bind, and warnings for what the graph does not know."""
        rows, warnings = [], []
        for field in PROFILE_FIELDS:
            if field not in profile or field == "absent_mutations":  # read by _parts_of
                continue
            factor = vocab.factors.get(field)
            if factor is None:
                warnings.append("the graph has no factor for %s; it was ignored" % field)
                continue
            value = profile[field]
            if field in ("remission_months", "age"):
                # xsd:decimal as the store computes it (oxigraph keeps 18 places): more digits make
                # an ill-typed literal whose comparisons fail, so 1e-308 months is bound as 0
                number = Decimal(format(Decimal(str(value)).quantize(Decimal("1e-12")).normalize(), "f"))
                rows.append((factor, Literal(number, datatype=XSD.decimal)))
                continue
            values = value if isinstance(value, list) else [value]
            stated = False
            for v in values:
                iri = vocab.code(v)
                if iri is None:
                    if field == "mutations":
                        warnings.append("mutation %s: the document names no option for it" % v)
                    else:
                        warnings.append("%s %s is not known to the graph" % (field, v))
                    continue
                rows.append((factor, iri))
                stated = True
            if not stated and field in ("mutations", "symptoms") and field in profile:
                # stated, but nothing the graph knows: conditions on this factor are not met
                rows.append((factor, Literal("none-known")))
        return rows, warnings

    def find(self, profile: dict) -> dict:
        """The answer for a validated profile (see parse_profile), as the contract shapes it."""
        store = self._store_getter()
        facts = self._graph_facts(store)
        key = profile_key(profile)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        vocab = facts["vocabulary"]
        rows, warnings = self.profile_rows(profile, vocab)
        answer = {
            "profile": profile,
            "options": self.options_for(store, facts, profile, rows),
            "warnings": warnings,
            "disclaimer": DISCLAIMER,
            "graph_version": facts["version"],
        }
        with self._lock:
            self._cache[key] = answer
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answer


    def options_for(self, store: Store, facts: dict, profile: dict, rows: list[tuple]) -> list[dict]:
        """The options for a profile. Profiles in the same situation (the same part keys, see
        `condition_rows`) share one assembled list; only the numbers quoted in `why` are their own."""
        parts = self._parts_of(facts, profile, rows)
        situation = tuple(key for key, _factor, _values in parts)
        template = facts["situations"].get(situation)
        if template is None:
            result = self._rows_of(store, facts, parts)
            template = assemble(result, facts["details"], facts["approvals"], facts["vocabulary"], _NUMBER_SLOTS)
            with self._lock:
                if len(facts["situations"]) > MAX_PARTS:
                    facts["situations"].clear()
                facts["situations"][situation] = template
        return fill_numbers(template, profile)

    def condition_rows(self, store: Store, facts: dict, profile: dict, rows: list[tuple]) -> list[dict]:
        """The rows of `queries/options.rq` for a profile, assembled from per-factor parts.

        A condition's state depends only on what the profile states for that condition's own factor,
        so the rows of each factor are read once per distinct value set (numbers: once per side of
        every threshold) and shared by every profile that states the same; a new profile then costs
        no query once its parts are known. `tests/test_options.py` checks this equals one query with
        the whole profile bound.
        """
        return self._rows_of(store, facts, self._parts_of(facts, profile, rows))

    @staticmethod
    def _parts_of(facts: dict, profile: dict, rows: list[tuple]) -> list[tuple]:
        """(part key, factor, values stated for it) for every factor, the unsettled part first."""
        stated: dict = {}
        for factor, value in rows:
            stated.setdefault(factor, []).append(value)
        parts = [(("unsettled",), None, [])]
        for field, factor in facts["vocabulary"].factors.items():
            values = stated.get(factor, [])
            if field in facts["bounds"]:
                key = (str(factor), side_of_bounds(profile.get(field), facts["bounds"][field]))
            elif field == "mutations" and "absent_mutations" in profile:
                # per gene: found -> met, tested absent -> unmet, neither -> open; the second row set
                # binds every code the graph knows except the absent genes (see `_part`)
                vocab = facts["vocabulary"]
                ruled_out = {vocab.code(g) for g in profile["absent_mutations"]}
                others = sorted((iri for iri in set(vocab.codes.values()) if iri not in ruled_out), key=str)
                key = (str(factor), tuple(sorted(v.n3() for v in values)),
                       "absent", tuple(sorted(i.n3() for i in ruled_out if i is not None)))
                parts.append((key, factor, (values, others)))
                continue
            else:
                key = (str(factor), tuple(sorted(v.n3() for v in values)))
            parts.append((key, factor, values))
        return parts

    def _rows_of(self, store: Store, facts: dict, parts: list[tuple]) -> list[dict]:
        field_factors = {factor: field for field, factor in facts["vocabulary"].factors.items()}
        result: list[dict] = []
        for key, factor, values in parts:
            result.extend(self._part(store, facts, key, factor, values, field_factors))
        return result

    def _part(self, store: Store, facts: dict, key: tuple, factor, values: list, field_factors: dict) -> list:
        """options.rq rows of the conditions on `factor` when the profile states `values` for it
        (factor None: the conditions no profile field settles, whose state never changes)."""
        parts = facts["parts"]
        part = parts.get(key)
        if part is None and isinstance(values, tuple):
            part = self._tested_part(store, factor, *values)
        if part is None:
            found = store.select(self.queries["options"].text,
                                 {("factor", "value"): [(factor, v) for v in values]})
            if factor is None:
                part = [r for r in found if r.get("factor") not in field_factors]
            else:
                part = [r for r in found if r.get("factor") == factor]
            with self._lock:
                if len(parts) > MAX_PARTS:
                    parts.clear()
                parts[key] = part
        return part


    def _tested_part(self, store: Store, factor, found: list, not_absent: list) -> list:
        """Rows of the conditions on `factor` (mutations) when some genes were tested absent: a
        condition is met as with `found` bound, unmet when binding every gene not tested absent
        still leaves it unmet (all the genes it asks for were tested absent), else open."""
        query = self.queries["options"].text
        with_found = [r for r in store.select(query, {("factor", "value"): [(factor, v) for v in found]})
                      if r.get("factor") == factor]
        possible = {str(r["condition"]) for r in store.select(query, {("factor", "value"): [(factor, v) for v in not_absent]})
                    if r.get("factor") == factor and str(r["state"]) == "met"}
        met = {str(r["condition"]) for r in with_found if str(r["state"]) == "met"}
        rows, seen = [], set()
        for r in with_found:
            condition = str(r["condition"])
            if condition in met:
                if str(r["state"]) == "met":
                    rows.append(r)
            elif condition not in seen:
                seen.add(condition)
                rows.append({**r, "state": Literal("open" if condition in possible else "unmet")})
        return rows


MAX_PARTS = 20_000


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


#: stand-ins for the profile's numbers in a situation's shared options (see `fill_numbers`)
_NUMBER_SLOTS = {"remission_months": "\x00remission_months\x00", "age": "\x00age\x00"}


def fill_numbers(template: list[dict], profile: dict) -> list[dict]:
    """A situation's options with this profile's numbers in the `why` texts (options without a
    number are shared as they are; answers are never changed after they are made).

    >>> t = [{"why": ["age %s: 60 or older" % _NUMBER_SLOTS["age"]]}, {"why": ["mutation IDH1 matches"]}]
    >>> filled = fill_numbers(t, {"age": 71.0})
    >>> filled[0]["why"], filled[1] is t[1]
    (['age 71: 60 or older'], True)
    """
    out = []
    for option in template:
        if any("\x00" in w for w in option["why"]):
            why = option["why"]
            for field, slot in _NUMBER_SLOTS.items():
                number = _plain_number(profile.get(field))
                why = [w.replace(slot, number) for w in why]
            option = {**option, "why": why}
        out.append(option)
    return out


def _why(field: str, given, vocab: Vocabulary, profile: dict, text: str) -> str:
    name = WHY_NAMES.get(field, field)
    if field in ("remission_months", "age"):
        return "%s %s: %s" % (name, _plain_number(profile.get(field)), text)
    code = vocab.code_of.get(given, str(given)) if given is not None else "?"
    return "%s %s matches" % (name, code)


def _plain_number(value) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def assemble(rows: list[dict], details: dict, approvals: dict, vocab: Vocabulary, profile: dict) -> list[dict]:
    """Group condition states by recommendation, drop those with an unmet condition, shape and order
    (strength first, then how many profile facts the option matched, then document order)."""
    by_rec: dict[str, dict] = {}
    # in document order of the conditions, whatever order the rows came in
    rows = sorted(rows, key=lambda r: (str(r["recommendation"]), int(r["order"]), str(r.get("given", ""))))
    for r in rows:
        rec = str(r["recommendation"])
        entry = by_rec.setdefault(rec, {"unmet": False, "conditions": [], "why": []})
        state = str(r["state"])
        if state == "unmet":
            entry["unmet"] = True
        elif state == "open":
            entry["conditions"].append(str(r["text"]))
        else:
            entry["why"].append(_why(str(r.get("field", "")), r.get("given"), vocab, profile, str(r["text"])))
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
            "note": d["note"],
            "source": d["source"],
            "fda_approvals": approvals.get(d["therapy"]["id"], []),
            # strongest first; within a strength, the options this profile matches on more facts
            "_sort": (d["rank"], -len(entry["why"]), d["order"]),
        })
    options.sort(key=lambda o: o.pop("_sort"))
    return options
