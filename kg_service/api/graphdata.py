"""What the API derives from the graph: the search index over the names the question parser knows
(its lexicon), kept in the graph version's snapshot (`kg_service.snapshot`), and one entity's
document (entity.rq), read from a store.
"""
from __future__ import annotations

from rdflib import BNode, Literal, URIRef

from ..question import Lexicon, normalise
from ..snapshot import Snapshot
from ..vocab import PREFIXES
from ..xrefs import xref_keys

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
AMLKG = PREFIXES["amlkg"]
DESCRIPTIONS = (SKOS + "definition", RDFS + "comment", "http://purl.org/dc/terms/description")
#: the OBO annotations that repeat the SKOS ones for OBO tools (a definition, its source, the synonyms):
#: an entity document gives the SKOS ones (description, synonyms) and leaves these out
_OBO, _OIO = "http://purl.obolibrary.org/obo/", "http://www.geneontology.org/formats/oboInOwl#"
OBO_MIRRORS = frozenset([_OBO + "IAO_0000115", _OBO + "IAO_0000119"] +
                        [_OIO + "has%sSynonym" % scope for scope in ("Exact", "Broad", "Narrow", "Related")])
NUMERIC_FIELDS = ("age", "remission_months")
NAME_KIND_RANK = {"label": 0, "brand": 1, "synonym": 2, "code": 3}
MATCH_NAMES = ("exact", "prefix", "word", "substring")

def curie(iri: str) -> str:
    """A prefixed name for display when a known prefix fits.

    >>> curie("http://www.w3.org/2000/01/rdf-schema#label"), curie("urn:x")
    ('rdfs:label', 'urn:x')
    """
    best = None
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and (best is None or len(ns) > len(PREFIXES[best])):
            best = prefix
    return "%s:%s" % (best, iri[len(PREFIXES[best]):]) if best else iri


# -- search -------------------------------------------------------------------------------------
class SearchIndex:
    """Every name of every entity, normalised (case- and accent-insensitive)."""

    def __init__(self, lexicon: Lexicon):
        entries = []
        seen = set()
        for r in lexicon.rows:
            name, kind = r.get("name", ""), r.get("nameKind", "label")
            key = (r["entity"], name, kind)
            if not name or key in seen:
                continue
            seen.add(key)
            entity = lexicon.entities.get(r["entity"])
            norm = normalise(name)
            entries.append((norm, tuple(norm.replace("-", " ").split()), r["entity"], name, kind,
                            entity.label if entity else r.get("label", name),
                            entity.kind if entity else None, entity.code if entity else None))
        self.entries = entries

    def search(self, text: str, limit: int = 20) -> list[dict]:
        """Entities whose names match `text`: exact > prefix > word prefix > substring; label > brand >
        synonym > code; then shorter labels first."""
        q = normalise(text)
        if not q:
            return []
        best: dict[str, tuple] = {}
        for norm, words, iri, name, kind, label, kind_label, code in self.entries:
            if norm == q:
                match = 0
            elif norm.startswith(q):
                match = 1
            elif any(w.startswith(q) for w in words) or (" " + norm).find(" " + q) >= 0:
                match = 2
            elif q in norm:
                match = 3
            else:
                continue
            rank = (match, NAME_KIND_RANK.get(kind, 4), len(label), label.casefold(), iri)
            if iri not in best or rank < best[iri][0]:
                best[iri] = (rank, name, kind, label, kind_label, code)
        ranked = sorted(best.items(), key=lambda kv: kv[1][0])[:limit]
        return [{"id": iri, "label": label, "matched": name, "match": MATCH_NAMES[rank[0]], "name_kind": kind,
                 "kind": kind_label, "code": code}
                for iri, (rank, name, kind, label, kind_label, code) in ranked]


# -- one entity ---------------------------------------------------------------------------------
def entity_document(store, queries, snap: Snapshot, iri: str) -> dict | None:
    """Everything the graph says about one entity, shaped for app developers; None when unknown."""
    rows = store.select(queries["entity"].text, {"entity": URIRef(iri)})
    if not rows:
        return None
    details, approvals = snap.details, snap.approvals
    doc = {"id": iri, "curie": curie(iri), "label": None, "labels": [], "types": [], "superclasses": [],
           "synonyms": [], "brand_names": [], "codes": [], "description": None, "xrefs": {}, "xref_iris": [],
           "properties": {}, "links": [], "recommendations": [], "fda_approvals": approvals.get(iri, [])}
    recs: dict[str, set] = {}
    conditions = []
    for r in rows:
        prop, value, direction = str(r["property"]), r.get("value"), str(r["direction"])
        if value is None or isinstance(value, BNode) or prop in OBO_MIRRORS:
            continue
        label = str(r["valueLabel"]) if "valueLabel" in r else None
        if direction == "out":
            if isinstance(value, Literal):
                text = str(value)
                if prop == RDFS + "label":
                    doc["labels"].append(text)
                elif prop == SKOS + "altLabel":
                    doc["synonyms"].append(text)
                elif prop == AMLKG + "brandName":
                    doc["brand_names"].append(text)
                elif prop == AMLKG + "profileCode":
                    doc["codes"].append(text)
                elif prop in DESCRIPTIONS and doc["description"] is None:
                    doc["description"] = text
                else:
                    doc["properties"].setdefault(curie(prop), []).append(_literal(value))
                continue
            target = str(value)
            if prop == RDF_TYPE:
                doc["types"].append({"id": target, "curie": curie(target), "label": label})
                continue
            if prop == RDFS + "subClassOf":
                doc["superclasses"].append({"id": target, "curie": curie(target), "label": label})
                continue
            if prop == SKOS + "exactMatch":
                doc["xref_iris"].append(target)
                continue
        else:
            source = str(value)
            if prop == AMLKG + "recommends":
                recs.setdefault(source, set()).add("recommends")
            elif prop == AMLKG + "possiblyCombinedWith":
                recs.setdefault(source, set()).add("possibly combined with")
            elif prop == AMLKG + "requiresValue":
                conditions.append(source)
        doc["links"].append({"property": curie(prop), "property_id": prop, "direction": direction,
                             "id": str(value), "label": label})
    if conditions:
        for r in store.select(queries["entity"].text, {"entity": [URIRef(c) for c in conditions]}):
            if str(r["direction"]) == "in" and str(r["property"]) == AMLKG + "hasCondition":
                recs.setdefault(str(r["value"]), set()).add("condition")
    doc["label"] = doc["labels"][0] if doc["labels"] else None
    doc["xrefs"] = xref_keys(doc["xref_iris"])
    for rec in sorted(recs, key=lambda k: (details.get(k, {}).get("order", 1 << 30), k)):
        d = details.get(rec)
        if d is None:
            continue
        doc["recommendations"].append({
            "id": rec, "relation": sorted(recs[rec]), "therapy": d["therapy"]["label"],
            "therapy_id": d["therapy"]["id"], "strength": d["strength"], "strength_wording": d["strength_wording"],
            "source": d["source"]})
    if iri in details:
        d = details[iri]
        doc["recommendation"] = {"therapy": d["therapy"], "strength": d["strength"],
                                 "strength_wording": d["strength_wording"], "caveat": d["caveat"],
                                 "combined_with": d["combined_with"], "note": d["note"], "source": d["source"]}
    doc["links"].sort(key=lambda link: (link["direction"], link["property"], link["label"] or "", link["id"]))
    return doc


def _literal(value: Literal):
    from .respond import plain_value
    return plain_value(value)

