"""The TBox source: ontology/amlkg.owl (RDF/XML), parsed with unsafe XML refused (loaders/safe_xml.py)."""
from __future__ import annotations

from pathlib import Path

import rdflib

from .safe_xml import UnsafeXML, parse_rdfxml


def parse_ontology(path: Path) -> rdflib.Graph:
    """Parse the edit file; raise ValueError naming the file on unsafe or malformed input."""
    data = Path(path).read_bytes()
    try:
        return parse_rdfxml(data, str(path), public_id=Path(path).resolve().as_uri())
    except (UnsafeXML, ValueError):
        raise
    except Exception as e:  # rdflib's handler raises several exception types on malformed RDF
        raise ValueError("%s: not valid RDF/XML: %s" % (path, e)) from None


def load(files: dict, tbox: rdflib.Graph | None = None) -> rdflib.Graph:
    """The ontology graph is the edit file as it stands, once its cross-references agree with the
    reference table (kg_service/mappings.py: the table's `match` column and confidence rule), with the
    table's source and confidence of each mapping as axiom annotations."""
    from kg_service.mappings import problems, provenance
    graph = parse_ontology(files["ontology"])
    wrong = problems(graph)
    if wrong:
        raise ValueError("%s: cross-references the reference table does not support:\n  %s"
                         % (Path(files["ontology"]).name, "\n  ".join(wrong)))
    return graph + provenance(graph)  # each mapping's source and confidence, from the table
