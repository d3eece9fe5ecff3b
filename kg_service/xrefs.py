"""Cross-reference IRIs as display identifiers, from the reference table the ontology's xrefs come from."""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

XREFS_TSV = Path(__file__).resolve().parents[1] / "loaders" / "data" / "xrefs.tsv"
# keys as CONTRACT.md shows them ("NCIT", "DrugBank"); other schemes keep the reference table's name
KEY_FOR_SCHEME = {"NCIt": "NCIT"}


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, str]]:
    out = {}
    with XREFS_TSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("iri"):
                out[row["iri"]] = (KEY_FOR_SCHEME.get(row["scheme"], row["scheme"]), row["id"])
    return out


def xref_keys(iris) -> dict[str, str]:
    """{scheme: identifier} for the IRIs the reference table knows (first one per scheme wins).

    >>> xref_keys(["http://purl.obolibrary.org/obo/NCIT_C116722", "https://go.drugbank.com/drugs/DB12141"])
    {'NCIT': 'C116722', 'DrugBank': 'DB12141'}
    """
    table = _table()
    out: dict[str, str] = {}
    for iri in sorted(iris):
        if iri in table:
            key, ident = table[iri]
            out.setdefault(key, ident)
    return out


@lru_cache(maxsize=1)
def _rows() -> list[dict]:
    with XREFS_TSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def rows_by_iri() -> dict[str, dict]:
    """The reference table's rows that name an IRI, by that IRI (the mappings read them so)."""
    return {r["iri"]: r for r in _rows() if r.get("iri")}


def ids_of_same_entity(iris, scheme: str) -> list[str]:
    """The reference table's `scheme` ids of the entity (the table's `entity` column) that the given
    cross-reference IRIs belong to: e.g. the RxNorm code of a drug the graph knows by NCIt and
    DrugBank. Only rows of confidence high or medium.

    >>> ids_of_same_entity(["http://purl.obolibrary.org/obo/NCIT_C1005"], "RxNorm")
    ['18330']
    """
    iris = set(iris)
    entities = {r["entity"] for r in _rows() if r.get("iri") and r["iri"] in iris}
    return sorted({r["id"] for r in _rows() if r["entity"] in entities and r["scheme"] == scheme
                   and r.get("confidence") in ("high", "medium")})
