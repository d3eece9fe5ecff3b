"""The ontology's cross-references as an SSSOM mapping set, held to the reference table's rule.

The edit file says which term maps to which identifier and how (a SKOS mapping property); the
reference table (`loaders/data/xrefs.tsv`, read by kg_service/xrefs.py) says where the identifier
comes from, how sure that is, and, in its `match` column, which relation a row supports. So the
predicate is curated once, in the OWL, and checked here against the table; the SSSOM file is written
from the two and never edited (the build and `/downloads/amlkg.sssom.tsv` both call `sssom_tsv`).
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import rdflib
from rdflib import URIRef

from .vocab import BASE
from .xrefs import XREFS_TSV, rows_by_iri

SKOS = "http://www.w3.org/2004/02/skos/core#"
#: the SKOS mapping properties, by the word the table's `match` column uses
PREDICATES = {word: URIRef(SKOS + word + "Match") for word in ("exact", "close", "broad", "narrow", "related")}
IRI_PATTERNS = Path(XREFS_TSV).with_name("iri-patterns.tsv")
#: the table's confidence words as SSSOM confidence scores (a stated scale, not a measurement)
CONFIDENCE = {"high": 0.95, "medium": 0.8, "low": 0.5}
SSSOM_COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label",
                 "mapping_justification", "confidence", "comment")


@lru_cache(maxsize=1)
def curie_map() -> dict[str, str]:
    """prefix -> IRI base for every scheme of iri-patterns.tsv that has one prefix and an IRI pattern."""
    out = {"amlkg": BASE, "skos": SKOS, "semapv": "https://w3id.org/semapv/vocab/"}
    with IRI_PATTERNS.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            prefix, pattern = row["curie_prefix"].strip(), row["iri_pattern (replace {id})"].strip()
            if pattern.endswith("{id}") and prefix.isidentifier() and "?" not in pattern:
                out[prefix] = pattern[:-len("{id}")]
    return out


def curie(iri: str) -> str:
    """The CURIE of an IRI under `curie_map` (the longest base wins); the IRI itself otherwise."""
    best = max(((p, b) for p, b in curie_map().items() if iri.startswith(b)), key=lambda pb: len(pb[1]),
               default=None)
    return "%s:%s" % (best[0], iri[len(best[1]):]) if best else iri


def mapping_triples(tbox: rdflib.Graph) -> list[tuple[URIRef, URIRef, URIRef]]:
    """Every (term, SKOS mapping property, identifier) of the ontology, sorted."""
    return sorted((s, p, o) for p in PREDICATES.values() for s, o in tbox.subject_objects(p)
                  if isinstance(s, URIRef) and isinstance(o, URIRef))


def allowed(row: dict) -> set[URIRef]:
    """The predicates a reference row supports: its `match` when given; else exact only for high or
    medium confidence (the meanings must coincide, which the curator judges), and for low confidence
    at most a close match."""
    if (row.get("match") or "").strip():
        return {PREDICATES[row["match"].strip()]}
    if row.get("confidence") == "low":
        return set(PREDICATES.values()) - {PREDICATES["exact"]}
    return set(PREDICATES.values())


def problems(tbox: rdflib.Graph) -> list[str]:
    """Mappings the reference table does not support: an identifier not in it, or a predicate its row
    rules out. The build fails on any."""
    rows = rows_by_iri()
    out = []
    for s, p, o in mapping_triples(tbox):
        row = rows.get(str(o))
        if row is None:
            out.append("%s %s %s: the identifier is not in the reference table" % (curie(s), curie(p), o))
        elif p not in allowed(row):
            out.append("%s %s %s: the reference table allows only %s (match %r, confidence %s)"
                       % (curie(s), curie(p), curie(str(o)), ", ".join(sorted(curie(a) for a in allowed(row))),
                          row.get("match") or "", row.get("confidence")))
    return out


SSSOM_CONFIDENCE = URIRef("https://w3id.org/sssom/confidence")
DCT_SOURCE = URIRef("http://purl.org/dc/terms/source")


def provenance(tbox: rdflib.Graph) -> rdflib.Graph:
    """An OWL axiom annotation per mapping with the reference table's source (`dcterms:source`) and
    confidence (`sssom:confidence`), so the graph and the OWL files carry what the SSSOM file does."""
    rows = rows_by_iri()
    out = rdflib.Graph()
    OWL = rdflib.OWL
    for s, p, o in mapping_triples(tbox):
        row = rows.get(str(o))
        if row is None:
            continue
        axiom = rdflib.BNode()
        out.add((axiom, rdflib.RDF.type, OWL.Axiom))
        out.add((axiom, OWL.annotatedSource, s))
        out.add((axiom, OWL.annotatedProperty, p))
        out.add((axiom, OWL.annotatedTarget, o))
        out.add((axiom, DCT_SOURCE, rdflib.Literal(_cell(row["source"]))))
        if row.get("confidence") in CONFIDENCE:
            out.add((axiom, SSSOM_CONFIDENCE, rdflib.Literal(CONFIDENCE[row["confidence"]])))
    return out


def sssom_tsv(tbox: rdflib.Graph, set_iri: str, version_info: str) -> bytes:
    """The mapping set `set_iri`, version `version_info`: a YAML metadata block (`#` lines) and one row
    per mapping of the ontology, with the reference table's label, source and confidence."""
    rows = rows_by_iri()
    used = set()
    body = []
    for s, p, o in mapping_triples(tbox):
        row = rows.get(str(o), {})
        used.update(curie(x).split(":", 1)[0] for x in (str(s), str(p), str(o)))
        label = tbox.value(s, rdflib.RDFS.label)
        body.append((curie(s), str(label or ""), curie(str(p)), curie(str(o)), row.get("label", ""),
                     "semapv:ManualMappingCuration", str(CONFIDENCE.get(row.get("confidence"), "")),
                     "reference table confidence %s; source: %s" % (row.get("confidence", "?"), row.get("source", "?"))))
    used.add("semapv")
    prefixes = {p: b for p, b in sorted(curie_map().items()) if p in used}
    meta = ["curie_map:"] + ["  %s: %s" % (p, b) for p, b in prefixes.items()] + [
        "mapping_set_id: %s" % set_iri,
        "mapping_set_version: %s" % _yaml_text(version_info),
        "mapping_set_title: %s" % _yaml_text("amlkg cross-references (relapsed and refractory AML)"),
        "mapping_set_description: %s" % _yaml_text(
            "The SKOS mappings of the amlkg ontology to NCIt, Mondo, DOID, MeSH, ChEBI, DrugBank, HGNC, NCBI Gene, "
            "MAxO and HPO, with the source and confidence of the reference table (loaders/data/xrefs.tsv). "
            "Confidence: high 0.95, medium 0.8, low 0.5 (the table's words on a stated scale)."),
        "license: https://creativecommons.org/licenses/by/4.0/",
        "mapping_date: %s" % version_info.split(" ", 1)[0],
    ]
    lines = ["#" + m for m in meta] + ["\t".join(SSSOM_COLUMNS)]
    lines += ["\t".join(_cell(c) for c in r) for r in body]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _yaml_text(text: str) -> str:
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _cell(text: str) -> str:
    return " ".join(str(text).split())  # no tab or newline inside a cell
