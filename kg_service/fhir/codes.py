"""The FHIR code table (`loaders/data/fhir-codes.tsv`): which (system, code) pairs of a record mean
what for the options finder's profile. Every row names its source; a code not in the table means
nothing to the reader (it is never guessed from a display text).
"""
from __future__ import annotations

import csv
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

CODES_TSV = Path(__file__).resolve().parents[2] / "loaders" / "data" / "fhir-codes.tsv"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
HGNC_SYSTEMS = ("http://www.genenames.org/geneId", "http://www.genenames.org")


def _key(system: str, code: str) -> tuple[str, str]:
    system = (system or "").strip().rstrip("/")
    code = (code or "").strip()
    if system in ICD10:
        code = code.upper()  # ICD-10 codes are written in either case
    elif system in HGNC_SYSTEMS and code.isdigit():
        code = "HGNC:" + code  # the HGNC id with or without its prefix
    return system, code


@lru_cache(maxsize=1)
def table() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(system, code) -> [(field, value), ...] from the code table."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    with CODES_TSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out[_key(row["system"], row["code"])].append((row["field"], row["value"]))
    return dict(out)


def meanings(concept, default_system: str = "") -> list[tuple[str, str]]:
    """What the codings of a CodeableConcept (or one Coding) mean, as (field, value) pairs
    (`default_system`: the one system an element's required binding allows, for codings without one).

    >>> meanings({"coding": [{"system": "http://snomed.info/sct", "code": "91861009"},
    ...                      {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "c92.02"}]})
    [('disease', 'AML'), ('status', 'relapsed')]
    """
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding") if "coding" in concept else [concept]
    out: list[tuple[str, str]] = []
    for coding in codings or ():
        if isinstance(coding, dict):
            system = coding.get("system") or default_system
            for meaning in table().get(_key(system, coding.get("code", "")), ()):
                if meaning not in out:
                    out.append(meaning)
    return out


def values(concept, field: str) -> list[str]:
    """The values a concept's codings give one field (e.g. 'gene' -> ['FLT3'])."""
    return [v for f, v in meanings(concept) if f == field]
