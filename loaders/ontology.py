"""The TBox source: ontology/amlkg.owl (RDF/XML), parsed with unsafe XML refused."""
from __future__ import annotations

from pathlib import Path

import rdflib

from .safe_xml import check_xml


def parse_ontology(path: Path) -> rdflib.Graph:
    """Parse the edit file; raise ValueError naming the file on unsafe or malformed input."""
    data = Path(path).read_bytes()
    check_xml(data, str(path))
    g = rdflib.Graph()
    try:
        g.parse(data=data, format="xml", publicID=Path(path).resolve().as_uri())
    except Exception as e:  # rdflib raises several parser exception types
        raise ValueError("%s: not valid RDF/XML: %s" % (path, e)) from None
    return g


def load(files: dict, tbox: rdflib.Graph | None = None) -> rdflib.Graph:
    """The ontology graph is the edit file as it stands."""
    return parse_ontology(files["ontology"])
