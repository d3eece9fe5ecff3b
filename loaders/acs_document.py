"""The ACS document source: the verbatim page text plus the curated recommendations (YAML).

Every recommendation becomes a `Recommendation` individual with its conditions, strength, section
and quote (W3C Web Annotation selectors located in the text), resolved against the TBox: class
names must exist there, profile codes are looked up through `amlkg:profileCode`.
"""
from __future__ import annotations

from pathlib import Path

import rdflib
import rdflib.collection
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, XSD

from kg_service.vocab import AMLKG, OA, PROV

from .reasoning import NUMBER_FIELDS

# One source for every threshold: a numeric condition names the defined class of the ontology whose
# datatype restriction holds the number (`remission_months: {class: LateRelapsedAML, ...}`), and its
# bound is read from there, so the options finder and the reasoner cannot disagree on 12, 6 or 60.
# The XSD facet of the restriction -> the condition's bound property
FACET_BOUNDS = {XSD.minInclusive: AMLKG.minInclusive, XSD.minExclusive: AMLKG.minExclusive,
                XSD.maxExclusive: AMLKG.maxExclusive, XSD.maxInclusive: AMLKG.maxInclusive}
CONTEXT_CHARS = 32


class DataError(ValueError):
    """A curated record is wrong; the message names the file, record and reason."""


def _en(text: str) -> Literal:
    return Literal(text, lang="en")


class Vocabulary:
    """What the loader needs to know from the TBox, read once."""

    def __init__(self, tbox: rdflib.Graph):
        self.classes = {s for s in tbox.subjects(RDF.type, OWL.Class) if isinstance(s, URIRef)}
        self.labels = {s: str(o) for s, o in tbox.subject_objects(RDFS.label)}
        self.codes: dict[str, URIRef] = {}
        for cls, code in tbox.subject_objects(AMLKG.profileCode):
            key = str(code).lower()
            if key in self.codes and self.codes[key] != cls:
                raise DataError("ontology: profile code %r is used by %s and %s" % (code, self.codes[key], cls))
            self.codes[key] = cls
        self.factor_by_field = {str(f): s for s, f in tbox.subject_objects(AMLKG.profileField)}
        self.factors = set(tbox.subjects(RDF.type, AMLKG.ProfileFactor))
        self.strengths = {str(self.labels.get(s, "")): s for s in tbox.subjects(RDF.type, AMLKG.Strength)}
        self.bounds = defined_bounds(tbox)

    def cls(self, name: str, where: str) -> URIRef:
        iri = AMLKG[name]
        if iri not in self.classes:
            raise DataError("%s: %r is not a class of ontology/amlkg.owl" % (where, name))
        return iri

    def code(self, value, where: str) -> URIRef:
        iri = self.codes.get(str(value).lower())
        if iri is None:
            raise DataError("%s: %r is not a profile code of any class (amlkg:profileCode)" % (where, value))
        return iri


def defined_bounds(tbox: rdflib.Graph) -> dict[URIRef, tuple[URIRef, URIRef, Literal]]:
    """class -> (data property, bound property, value) for every defined class whose equivalent class
    restricts a data property to a range of one facet (EarlyRelapsedAML: remissionDurationMonths,
    maxExclusive, 12)."""
    out = {}
    for cls, eq in tbox.subject_objects(OWL.equivalentClass):
        for part in rdflib.collection.Collection(tbox, tbox.value(eq, OWL.intersectionOf) or RDF.nil):
            datatype = tbox.value(part, OWL.someValuesFrom)
            facets = tbox.value(datatype, OWL.withRestrictions) if datatype is not None else None
            if facets is None:
                continue
            for item in rdflib.collection.Collection(tbox, facets):
                for facet, value in tbox.predicate_objects(item):
                    if facet in FACET_BOUNDS:
                        out[cls] = (tbox.value(part, OWL.onProperty), FACET_BOUNDS[facet], value)
    return out


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Revisions:
    """The revisions of the document the registry lists (date -> text), and the one quotes are
    anchored in unless a record names another with `revision:`."""

    def __init__(self, files: dict, revisions: dict | None, revised: str | None, document_revised: str):
        if not revisions:  # a registry without revision dates: the one text is the document's revision
            revisions, revised = {"text": document_revised}, document_revised
        self.default = revised or document_revised
        self.texts: dict[str, str] = {}
        self.files: dict[str, str] = {}
        for name, date in revisions.items():
            self.texts[date] = Path(files[name]).read_text(encoding="utf-8")
            self.files[date] = Path(files[name]).name
        if self.default not in self.texts:
            raise DataError("no file is revision %s of the document (revisions: %s)"
                            % (self.default, ", ".join(sorted(self.texts))))

    def of(self, rec: dict, where: str) -> str:
        """The revision a record's quote is anchored in: its `revision:` key, else the default."""
        value = rec.get("revision", self.default)
        date = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if date not in self.texts:
            raise DataError("%s: revision %s is not a revision of the document listed in sources.yaml (%s)"
                            % (where, date, ", ".join(sorted(self.texts))))
        return date


def load(files: dict, tbox: rdflib.Graph, revisions: dict | None = None, revised: str | None = None) -> rdflib.Graph:
    """Triples for the document, its sections and references, and every curated recommendation.

    `revisions` (file name -> date) and `revised` come from sources.yaml: each recommendation's quote
    is checked in the revision it declares (`revision:`), by default `revised`."""
    src = Path(files["recommendations"])
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError("%s: not valid YAML: %s" % (src, e)) from None
    vocab = Vocabulary(tbox)
    g = rdflib.Graph()
    doc_meta = data["document"]
    texts = Revisions(files, revisions, revised, str(doc_meta["revised"]))
    text = texts.texts[texts.default]
    prefix = doc_meta["id"]
    doc = AMLKG[prefix]
    g.add((doc, RDF.type, AMLKG.SourceDocument))
    g.add((doc, RDF.type, OWL.NamedIndividual))
    g.add((doc, RDFS.label, _en("%s: %s" % (doc_meta["publisher"], doc_meta["title"]))))
    g.add((doc, DCTERMS.title, Literal(doc_meta["title"])))
    g.add((doc, DCTERMS.publisher, Literal(doc_meta["publisher"])))
    g.add((doc, DCTERMS.modified, Literal(str(doc_meta["revised"]), datatype=XSD.date)))
    g.add((doc, AMLKG.sourceFile, Literal(doc_meta["file"])))
    g.add((doc, AMLKG.sha256, Literal(doc_meta["sha256"])))

    sections = {}
    for order, sec in enumerate(data["sections"], start=1):
        where = "%s: section %r" % (src, sec.get("id"))
        if "\n%s\n" % sec["heading"] not in text:
            raise DataError("%s: heading %r is not a line of the document" % (where, sec["heading"]))
        iri = AMLKG["%s-section-%s" % (prefix, sec["id"])]
        sections[sec["id"]] = iri
        g.add((iri, RDF.type, AMLKG.DocumentSection))
        g.add((iri, RDF.type, OWL.NamedIndividual))
        g.add((iri, RDFS.label, _en(sec["heading"])))
        g.add((iri, AMLKG.sectionOrder, Literal(order)))
        g.add((iri, AMLKG.statesOptions, Literal(bool(sec.get("treatment")))))
        g.add((iri, DCTERMS.isPartOf, doc))

    for ref in data["references"]:
        where = "%s: reference %r" % (src, ref.get("id"))
        if ref["citation"] not in text:
            raise DataError("%s: citation is not in the document text" % where)
        iri = AMLKG["%s-ref-%s" % (prefix, ref["id"])]
        g.add((iri, RDF.type, AMLKG.CitedReference))
        g.add((iri, RDF.type, OWL.NamedIndividual))
        g.add((iri, RDFS.label, _en(ref["label"])))
        g.add((iri, DCTERMS.bibliographicCitation, Literal(ref["citation"])))
        g.add((doc, DCTERMS.references, iri))

    templates = data.get("condition_texts", {})
    seen: dict = {}
    for order, rec in enumerate(data["recommendations"], start=1):
        where = "%s: recommendation #%d %r" % (src, order, rec.get("id"))
        try:
            _add_recommendation(g, rec, order, where, prefix, doc, texts, sections, templates, vocab, seen)
        except KeyError as e:
            raise DataError("%s: missing field %s" % (where, e)) from None
    for order, rec in enumerate(data["recommendations"], start=1):
        for earlier in rec.get("follows") or []:
            if earlier not in seen:
                raise DataError("%s: recommendation %r follows unknown id %r" % (src, rec["id"], earlier))
            g.add((seen[rec["id"]], AMLKG.follows, seen[earlier]))
    for n, framing in enumerate(data.get("framing") or [], start=1):
        _add_framing(g, framing, "%s: framing #%d" % (src, n), prefix, doc, texts, sections, vocab, seen, data)
    return g


def _add_framing(g, framing, where, prefix, doc, texts, sections, vocab, seen, data):
    """The document's general framing as a condition of every active treatment of its sections: not of
    a statement that something is not likely helpful, nor of one that states the same factor itself."""
    quote = _quote_resource(g, texts, texts.default, framing["quote"], where, prefix, doc)
    if framing["text"] not in framing["quote"]:
        raise DataError("%s: the condition text is not part of the quote" % where)
    factor = vocab.factor_by_field.get(framing["field"])
    if factor is None or not isinstance(framing.get("is"), bool):
        raise DataError("%s: needs a yes-or-no profile field and `is: true|false`" % where)
    for name in framing["sections"]:
        if name not in sections:
            raise DataError("%s: unknown section %r" % (where, name))
    not_helpful = vocab.strengths.get("not likely helpful")
    for rec in data["recommendations"]:
        iri = seen[rec["id"]]
        if rec["section"] not in framing["sections"] or (iri, AMLKG.hasStrength, not_helpful) in g:
            continue
        if framing["field"] in (rec.get("when") or {}):
            continue
        n = len(list(g.objects(iri, AMLKG.hasCondition))) + 1
        cond = AMLKG["%s-%s-c%d" % (prefix, rec["id"], n)]
        _add_condition(g, iri, cond, factor, framing["text"], n)
        g.add((cond, AMLKG.requiresBoolean, Literal(framing["is"])))
        g.add((cond, PROV.wasDerivedFrom, quote))


def _locate(text: str, quote: str, where: str, revision: str) -> tuple[int, int]:
    start = text.find(quote)
    if start < 0:
        raise DataError("%s: the quote is not an exact substring of the document's revision %s: %r"
                        % (where, revision, quote[:80]))
    return start, start + len(quote)


def _add_recommendation(g, rec, order, where, prefix, doc, texts, sections, templates, vocab, seen):
    rid = rec["id"]
    if rid in seen:
        raise DataError("%s: duplicate id" % where)
    iri = AMLKG["%s-%s" % (prefix, rid)]
    seen[rid] = iri
    therapy = vocab.cls(rec["recommends"], where)
    if rec["section"] not in sections:
        raise DataError("%s: unknown section %r" % (where, rec["section"]))
    strength = vocab.strengths.get(rec["strength"])
    if strength is None:
        raise DataError("%s: unknown strength %r (one of %s)" % (where, rec["strength"], sorted(vocab.strengths)))

    g.add((iri, RDF.type, AMLKG.Recommendation))
    g.add((iri, RDF.type, OWL.NamedIndividual))
    g.add((iri, RDFS.label, _en("%s recommendation: %s" % (prefix.upper(), rid.replace("-", " ")))))
    g.add((iri, AMLKG.recommends, therapy))
    for name in rec.get("combined_with", []):
        g.add((iri, AMLKG.possiblyCombinedWith, vocab.cls(name, where)))
    g.add((iri, AMLKG.hasStrength, strength))
    g.add((iri, AMLKG.strengthWording, Literal(rec["wording"])))
    if rec.get("caveat"):
        if rec["caveat"] not in rec["quote"]:
            raise DataError("%s: the caveat is not part of the quote" % where)
        g.add((iri, AMLKG.caveat, Literal(rec["caveat"])))
    if rec.get("note"):
        g.add((iri, RDFS.comment, _en(rec["note"])))
    g.add((iri, AMLKG.inSection, sections[rec["section"]]))
    g.add((iri, AMLKG.recommendationOrder, Literal(order)))

    revision = texts.of(rec, where)
    g.add((iri, PROV.wasDerivedFrom, _quote_resource(g, texts, revision, rec["quote"], where, prefix, doc)))
    g.add((iri, AMLKG.quotedRevision, Literal(revision, datatype=XSD.date)))

    n = 0
    for field, spec in (rec.get("when") or {}).items():
        factor = vocab.factor_by_field.get(field)
        if factor is None:
            raise DataError("%s: %r is not a profile field (one of %s)" % (where, field, sorted(vocab.factor_by_field)))
        n += 1
        cond = AMLKG["%s-%s-c%d" % (prefix, rid, n)]
        if isinstance(spec, dict) and "is" in spec:
            if not isinstance(spec["is"], bool) or "text" not in spec or set(spec) - {"is", "text", "soft"}:
                raise DataError("%s: %s needs `is: true|false` and a text (and may have `soft`)" % (where, field))
            g.add((cond, AMLKG.requiresBoolean, Literal(spec["is"])))
            cond_text = spec["text"]
        elif isinstance(spec, dict):
            if "class" not in spec or "text" not in spec or set(spec) - {"class", "text", "soft"}:
                raise DataError("%s: %s needs `class:` (the defined class of ontology/amlkg.owl that holds the "
                                "bound) and a text (and may have `soft`)" % (where, field))
            defined = vocab.cls(spec["class"], where)
            prop, bound, value = vocab.bounds.get(defined, (None, None, None))
            if prop != NUMBER_FIELDS.get(field):
                raise DataError("%s: %s of %s is no bound on %s" % (where, spec["class"], field,
                                                                    NUMBER_FIELDS.get(field, "a number")))
            g.add((cond, bound, Literal(str(value), datatype=XSD.decimal)))
            g.add((cond, AMLKG.boundsFrom, defined))
            cond_text = spec["text"]
        else:
            values = [vocab.code(v, "%s: %s" % (where, field)) for v in _as_list(spec)]
            for v in values:
                g.add((cond, AMLKG.requiresValue, v))
            labels = " or ".join(vocab.labels.get(v, str(v)) for v in values)
            cond_text = templates.get(field, "{values}").format(values=labels)
        if isinstance(spec, dict) and spec.get("soft"):
            g.add((cond, AMLKG.softWording, Literal(str(spec["soft"]))))
        _add_condition(g, iri, cond, factor, cond_text, n)
    for item in rec.get("open") or []:
        factor = AMLKG["factor-" + item["factor"]]
        if factor not in vocab.factors or factor in vocab.factor_by_field.values():
            raise DataError("%s: open condition factor %r is not one of the unsettled factors" % (where, item["factor"]))
        n += 1
        _add_condition(g, iri, AMLKG["%s-%s-c%d" % (prefix, rid, n)], factor, item["text"], n)


def _quote_resource(g, texts, revision: str, exact: str, where: str, prefix: str, doc) -> URIRef:
    """The W3C Web Annotation resource of one exact quote of the document's `revision` (made once per
    span; positions count characters of that revision, so a quote in another revision is another node)."""
    text = texts.texts[revision]
    start, end = _locate(text, exact, where, revision)
    in_revision = "" if revision == texts.default else "r%s-" % revision.replace("-", "")
    quote = AMLKG["%s-quote-%s%d-%d" % (prefix, in_revision, start, end)]
    if (quote, RDF.type, OA.SpecificResource) not in g:
        tqs, tps = URIRef(quote + "-text"), URIRef(quote + "-position")
        g.add((quote, RDF.type, OA.SpecificResource))
        g.add((quote, RDF.type, OWL.NamedIndividual))
        g.add((quote, RDFS.label, _en("quote at characters %d-%d" % (start, end))))
        g.add((quote, OA.hasSource, doc))
        g.add((quote, OA.hasSelector, tqs))
        g.add((quote, OA.hasSelector, tps))
        g.add((tqs, RDF.type, OA.TextQuoteSelector))
        g.add((tqs, RDF.type, OWL.NamedIndividual))
        g.add((tqs, RDFS.label, _en("text quote selector at characters %d-%d" % (start, end))))
        g.add((tqs, OA.exact, Literal(exact)))
        g.add((tqs, OA.prefix, Literal(text[max(0, start - CONTEXT_CHARS):start])))
        g.add((tqs, OA.suffix, Literal(text[end:end + CONTEXT_CHARS])))
        g.add((tps, RDF.type, OA.TextPositionSelector))
        g.add((tps, RDF.type, OWL.NamedIndividual))
        g.add((tps, RDFS.label, _en("text position selector at characters %d-%d" % (start, end))))
        g.add((tps, OA.start, Literal(start)))
        g.add((tps, OA.end, Literal(end)))
    return quote


def _add_condition(g, rec, cond, factor, text, order):
    g.add((rec, AMLKG.hasCondition, cond))
    g.add((cond, RDF.type, AMLKG.Condition))
    g.add((cond, RDF.type, OWL.NamedIndividual))
    g.add((cond, RDFS.label, _en("%s (%s)" % (text, str(cond).rsplit("/", 1)[-1]))))
    g.add((cond, AMLKG.onFactor, factor))
    g.add((cond, AMLKG.conditionText, Literal(text)))
    g.add((cond, AMLKG.conditionOrder, Literal(order)))
