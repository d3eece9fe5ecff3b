"""Store errors are typed, and one table (kg_service.errors.STORE_PROBLEMS) gives each kind its answer:
status, problem type and Retry-After. The answer follows the kind, never the words of the message, so
an upstream library or server rewording its messages cannot change a status."""
from __future__ import annotations

import pyoxigraph as ox
import pytest

from kg_service.errors import store_problem
from kg_service.store import (BindingError, DatasetMissing, Overloaded, QuerySyntaxError, QueryTimeout,
                              QueryUnsupported, StoreError, StoreUnavailable, UnsupportedFormat)
from kg_service.store.embedded import engine_error

# kind -> (status, problem type, Retry-After sent)
EXPECTED = [
    (Overloaded("every slot busy", retry_after=3), 503, "overloaded", True),
    (StoreUnavailable("the server is down"), 503, "store-unavailable", True),
    (DatasetMissing("no build of ours"), 503, "store-unavailable", True),
    (StoreError("refused access"), 503, "store-unavailable", True),
    (QueryTimeout("cut after 1.0 s"), 504, "query-timeout", False),
    (QuerySyntaxError("expected a variable", 1, 8), 400, "query-syntax", False),
    (QueryUnsupported("The function <urn:f> is not supported"), 400, "query-evaluation", False),
    (UnsupportedFormat("cannot be written as text/x-nothing"), 406, "not-acceptable", False),
    (BindingError("not a valid IRI"), 400, "invalid-parameters", False),
]
# words that name another kind of trouble, as an upstream message might be (re)worded
MISLEADING = ["Query timeout", "IO error: Corruption", "syntax error at 1:1", "Service Unavailable",
              "busy", "not supported", ""]


@pytest.mark.parametrize("error,status,kind,retry", EXPECTED, ids=lambda v: type(v).__name__
                         if isinstance(v, Exception) else None)
def test_each_kind_has_its_answer(error, status, kind, retry):
    p = store_problem(error)
    assert (p.status, p.kind) == (status, kind)
    assert ("Retry-After" in p.headers) is retry
    if retry:
        assert int(p.headers["Retry-After"]) == getattr(error, "retry_after", 5)


@pytest.mark.parametrize("error,status,kind,retry", EXPECTED, ids=lambda v: type(v).__name__
                         if isinstance(v, Exception) else None)
def test_a_reworded_message_changes_nothing(error, status, kind, retry):
    for words in MISLEADING:
        reworded = type(error)(words)
        p = store_problem(reworded)
        assert (p.status, p.kind, "Retry-After" in p.headers) == (status, kind, retry), (type(error), words)


def test_a_syntax_error_says_where():
    p = store_problem(QuerySyntaxError("error at 2:5: expected a variable", 2, 5))
    assert p.extra == {"line": 2, "column": 5} and p.detail.startswith("Syntax error at line 2, column 5")


def test_the_route_timeout_is_named():
    p = store_problem(QueryTimeout("cut", seconds=30))
    assert p.status == 504 and p.extra == {"timeout_seconds": 30}


def test_not_a_store_error_is_refused():
    with pytest.raises(TypeError):
        store_problem(RuntimeError("IO error"))


# -- pyoxigraph's own exceptions, sorted once inside the embedded store --------------------------
def _engine(query: str) -> Exception:
    try:
        list(ox.Store().query(query))
    except Exception as e:  # noqa: BLE001 (the test sorts it)
        return e
    raise AssertionError("the engine accepted %r" % query)


def test_the_engine_errors_are_sorted_by_kind():
    assert isinstance(engine_error(_engine("SELEC * WHERE {}")), QuerySyntaxError)
    unsupported = engine_error(_engine("ASK { FILTER(<http://example.org/f>(1) = 1) }"))
    assert isinstance(unsupported, QueryUnsupported) and "not supported" in str(unsupported)
    # RocksDB names disk trouble by its status; the rest of an evaluation error is the query's fault
    assert isinstance(engine_error(RuntimeError("IO error: No space left on device")), StoreUnavailable)
    assert isinstance(engine_error(OSError("read-only file system")), StoreUnavailable)
    assert isinstance(engine_error(RuntimeError("anything else the engine says")), QueryUnsupported)


def test_the_embedded_store_raises_typed_errors(store):
    with pytest.raises(QuerySyntaxError) as e:
        store.select("SELECT ?x WHERE { ?x }")
    assert e.value.line == 1
    with pytest.raises(QueryUnsupported):
        store.ask("ASK { ?s ?p ?o FILTER(<http://example.org/f>(1) = 1) }")
    with pytest.raises(UnsupportedFormat):
        store.raw("ASK {}", "text/x-nothing")


def test_an_upstream_rewording_keeps_the_status(client, monkeypatch):
    """A store error whose message reads like another kind keeps its kind's status on every route."""
    from kg_service.store.embedded import EmbeddedStore

    def unsupported(self, *args, **kwargs):
        raise QueryUnsupported("IO error: Query timeout (worded like disk trouble and a timeout)")
    monkeypatch.setattr(EmbeddedStore, "raw", unsupported)
    r = client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 400 and r.get_json()["type"].endswith("/query-evaluation")
    assert "Retry-After" not in r.headers

    def unavailable(self, *args, **kwargs):
        raise StoreUnavailable("syntax error at 1:1: query timeout", retry_after=9)
    monkeypatch.setattr(EmbeddedStore, "raw", unavailable)
    monkeypatch.setattr(EmbeddedStore, "select", unavailable)
    for path in ("/sparql?query=ASK%7B%7D", "/api/queries/targeted-drugs"):
        r = client.get(path, headers={"Accept": "application/json, application/sparql-results+json"})
        assert r.status_code == 503 and r.get_json()["type"].endswith("/store-unavailable"), path
        assert r.headers["Retry-After"] == "9"


def test_a_value_that_cannot_be_bound_is_a_400_from_the_table_on_any_route(store_path):
    """BindingError is a store error of the caller's making: the one handler answers it from
    STORE_PROBLEMS (400 invalid-parameters), never as a fault (500)."""
    from kg_service import create_app
    from kg_service.store import StoreError, bind_values
    assert issubclass(BindingError, StoreError)
    app = create_app({"TESTING": True, "KG_STORE": store_path})

    @app.get("/test-only/bind")
    def bind_a_bad_iri():
        from rdflib import URIRef
        bind_values("SELECT * WHERE { ?s ?p ?o }", {"s": URIRef("http://x> } <y")})
    r = app.test_client().get("/test-only/bind")
    assert r.status_code == 400 and r.get_json()["type"].endswith("/invalid-parameters"), r.data
