"""The store interface every backend implements, and the errors it raises.

Rows are ``dict[str, rdflib term]`` so callers can format values without knowing the backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import rdflib

from ..vocab import BASE, GRAPH

GRAPH_BASE = str(GRAPH)
META_GRAPH = GRAPH_BASE + "meta"
VERSION_PREDICATE = BASE + "graphVersion"
QUERY_DIR = Path(__file__).resolve().parent / "queries"


@lru_cache(maxsize=None)
def store_query(name: str) -> str:
    """The text of one of the store's own queries (kg_service/store/queries/<name>.rq)."""
    return (QUERY_DIR / (name + ".rq")).read_text(encoding="utf-8")


class StoreError(Exception):
    """A store operation failed. Each subclass is one kind of trouble, raised the same way by every
    backend (the engine's and the server's own errors are sorted into them inside the store, once);
    `kg_service.errors.store_problem` is the one table from a kind to an HTTP answer. A plain
    StoreError is trouble of the store itself (a refused login, a damaged answer)."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or read now (a remote server down, a store being swapped, a disk
    error); it may work again shortly.

    `retry_after` is the number of seconds a client may wait before trying again (``Retry-After``).
    """

    def __init__(self, message: str = "", retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(StoreUnavailable):
    """Every query slot of this worker stayed busy for the whole queue wait: answer 503, retry later."""


class DatasetMissing(StoreError):
    """The store answers but does not hold a build of ours (no recorded version, or a graph the build
    lists is absent): serving it would answer every question with nothing."""


class QueryTimeout(StoreError):
    """The query ran past its time limit and was cut (it would run out of time again); `seconds` is
    that limit when the store set it (None when the server cut the query by its own limit)."""

    def __init__(self, message: str = "", seconds: float | None = None):
        super().__init__(message)
        self.seconds = seconds


class QuerySyntaxError(StoreError, ValueError):
    """The query text is not valid SPARQL; `line` and `column` locate the problem when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


class QueryUnsupported(StoreError):
    """The query parses but the engine cannot evaluate it (a function it does not implement, a value
    it refuses): the caller's query, not the store, is at fault."""


class UnsupportedFormat(StoreError):
    """The store cannot write this query's answer in the media type asked for."""


class Store(ABC):
    """A SPARQL-queryable quad store holding one named graph per source.

    The default graph seen by queries is the union of all named graphs.
    """

    read_only: bool = True
    #: consulted around every query evaluation when set (kg_service.limits.QueryGate: acquire/release)
    gate = None

    @abstractmethod
    def select(self, query: str, bindings: Mapping | None = None, *,
               timeout: float | None = None) -> list[dict[str, rdflib.term.Identifier]]:
        """Run a SELECT with `bindings` (see :func:`bind_values`); rows as dicts of rdflib terms."""

    @abstractmethod
    def ask(self, query: str, bindings: Mapping | None = None, *, timeout: float | None = None) -> bool:
        """Run an ASK with bound values."""

    @abstractmethod
    def construct(self, query: str, bindings: Mapping | None = None, *,
                  timeout: float | None = None) -> rdflib.Graph:
        """Run a CONSTRUCT or DESCRIBE with bound values; the triples as an rdflib graph."""

    @abstractmethod
    def raw(self, query: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
            named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
            timeout: float | None = None) -> bytes:
        """Run any query form and serialise its result in `media_type` (the SPARQL endpoint's path)."""

    @abstractmethod
    def replace_graph(self, graph_iri: str, ntriples: bytes) -> None:
        """Replace the named graph `graph_iri` whole with the given N-Triples."""

    @abstractmethod
    def named_graphs(self) -> list[str]:
        """IRIs of the named graphs held."""

    @abstractmethod
    def triple_count(self) -> int:
        """Number of quads in all graphs."""

    def graph_version(self) -> str:
        """The version recorded by the last build (empty when the store was never built)."""
        rows = self.select(store_query("graph-version"))
        return str(rows[0]["v"]) if rows else ""

    def known_version(self) -> str | None:
        """The graph version if it is known without a query or a network call, else None (then
        `graph_version` finds it). For callers that must not wait, such as an event loop."""
        return None

    def close(self) -> None:
        """Release the backend's resources."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
