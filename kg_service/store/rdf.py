"""pyoxigraph's RDF model and formats for the modules outside the store: terms, parsers and writers,
datasets in memory and their canonical form. They read and write RDF with it; evaluating queries
over the graph stays the store's (the engine, ``pyoxigraph.Store``, is not exported here), so that
rule can be checked (import-linter: only kg_service.store, loaders and the curator's write path,
kg_service.curator.storage, import pyoxigraph)."""
from pyoxigraph import (BlankNode, CanonicalizationAlgorithm, Dataset, DefaultGraph, Literal, NamedNode, Quad,
                        QueryResultsFormat, RdfFormat, Triple, parse, parse_query_results, serialize)

__all__ = ["BlankNode", "CanonicalizationAlgorithm", "Dataset", "DefaultGraph", "Literal", "NamedNode", "Quad",
           "QueryResultsFormat", "RdfFormat", "Triple", "parse", "parse_query_results", "serialize"]
