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
    """The ontology graph is the edit file as it stands."""
    return parse_ontology(files["ontology"])
