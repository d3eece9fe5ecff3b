"""The remote backend's own behaviour: what it sends, how it writes, and how it rides out a server
that goes away (a real `oxigraph serve` stopped and restarted, and a scripted fake server)."""
from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
from rdflib import Literal

from kg_service.store import (META_GRAPH, BindingError, QuerySyntaxError, QueryTimeout, StoreError,
                              StoreUnavailable, open_store)
from kg_service.store.remote import RemoteSettings, RemoteStore

from tests.store.store_support import AML, SAMPLE_GRAPHS, SAMPLE_TRIPLES, VERSION, publish_remote

JSON = {"Content-Type": "application/sparql-results+json"}
ONE_ROW = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"1"}}]}}'
LABEL_Q = ("SELECT ?l WHERE { <https://w3id.org/amlkg/gilteritinib> "
           "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")


def remote(url, *, read_only: bool = True, **settings) -> RemoteStore:
    """A store with these settings over the defaults (never the environment's)."""
    return RemoteStore(url, read_only=read_only, settings=RemoteSettings.from_environ({}, **settings))


# -- a real server going away and coming back ----------------------------------------------------
def test_server_down_gives_unavailable_quickly_then_recovers(own_oxigraph_server):
    server = own_oxigraph_server
    publish_remote(server, SAMPLE_GRAPHS, VERSION)
    store = remote(server.query_url, version_ttl=0)
    assert store.select(LABEL_Q) == [{"l": Literal("gilteritinib")}]

    server.stop()
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable) as e:
        store.select(LABEL_Q)
    first = time.monotonic() - t0
    assert first < 2.0, "bounded retries: %.2f s" % first
    assert e.value.retry_after > 0
    assert "unavailable" in str(e.value)
    # while it stays down, the next calls skip the backoff and fail at once
    for call in (store.triple_count, store.named_graphs, store.graph_version,
                 lambda: store.raw("ASK {}", "application/sparql-results+json")):
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailable):
            call()
        assert time.monotonic() - t0 < 0.5

    server.start()
    # the same object answers again: no sticky broken state
    assert store.select(LABEL_Q) == [{"l": Literal("gilteritinib")}]
    assert store.graph_version() == VERSION
    assert store.triple_count() == SAMPLE_TRIPLES + 1


def test_server_stopped_in_the_middle_of_a_query(own_oxigraph_server):
    server = own_oxigraph_server
    publish_remote(server, SAMPLE_GRAPHS, VERSION)
    store = remote(server.query_url, retries=2, backoff=0.05)
    slow = "SELECT (COUNT(*) AS ?n) WHERE { %s }" % " ".join(
        "VALUES ?v%d { 1 2 3 4 5 6 7 8 9 10 }" % i for i in range(8))  # ~10 s on this machine
    outcome = {}

    def run():
        try:
            outcome["rows"] = store.select(slow, timeout=30)
        except Exception as e:  # noqa: BLE001 (the test inspects it)
            outcome["error"] = e
    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    server.stop()
    worker.join(10)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), StoreUnavailable), outcome
    assert time.monotonic() - t0 < 5
    server.start()
    assert store.select(LABEL_Q) == [{"l": Literal("gilteritinib")}]


def test_server_restarting_during_backoff_is_ridden_out(own_oxigraph_server):
    """A server back within the retry window answers the very call that found it down."""
    server = own_oxigraph_server
    publish_remote(server, SAMPLE_GRAPHS, VERSION)
    store = remote(server.query_url, retries=6, backoff=0.1)  # ~6 s of patience
    server.stop()
    restart = threading.Timer(0.3, server.start)
    restart.start()
    try:
        assert store.select(LABEL_Q) == [{"l": Literal("gilteritinib")}]
    finally:
        restart.join()


def test_publish_writes_version_last_and_drops_stale_graphs(own_oxigraph_server):
    server = own_oxigraph_server
    foreign = "http://example.org/not-ours"
    server.update('INSERT DATA { GRAPH <%s> { <urn:a> <urn:b> "kept" } }' % foreign)
    writer = remote(server.query_url, read_only=False, gsp_url=server.gsp_url)
    order = []
    real = writer.replace_graph
    writer.replace_graph = lambda iri, data: (order.append(iri), real(iri, data))
    writer.publish(SAMPLE_GRAPHS, "v1")
    assert order[-1] == META_GRAPH and set(order[:-1]) == set(SAMPLE_GRAPHS)

    smaller = dict(list(SAMPLE_GRAPHS.items())[:1])
    writer.publish(smaller, "v2")
    reader = remote(server.query_url)
    assert reader.named_graphs() == sorted([*smaller, META_GRAPH, foreign])
    assert reader.graph_version() == "v2"
    assert reader.select("SELECT ?v WHERE { GRAPH <%s> { ?g <https://w3id.org/amlkg/graphVersion> ?v } }"
                         % META_GRAPH) == [{"v": Literal("v2")}]


@pytest.mark.parametrize("chunk", [2, 10_000])
def test_sparql_update_path_matches_graph_store_path(oxigraph_server, chunk):
    """Without a GSP URL a build writes DROP + INSERT DATA, chunked, blank nodes kept together."""
    server = oxigraph_server
    server.clear()
    writer = remote(server.query_url, read_only=False, chunk_triples=chunk)
    assert writer.update_url == server.update_url
    writer.publish(SAMPLE_GRAPHS, VERSION)
    writer.publish(SAMPLE_GRAPHS, VERSION)  # replacing, not adding
    reader = remote(server.query_url)
    assert reader.triple_count() == SAMPLE_TRIPLES + 1
    rows = reader.select("SELECT ?p ?o WHERE { <https://w3id.org/amlkg/IDH1MutatedAML> "
                         "<http://www.w3.org/2002/07/owl#equivalentClass> ?x . ?x ?p ?o }")
    assert len(rows) == 3  # the three triples of one restriction node, not three nodes
    quote = reader.select("SELECT ?q WHERE { <https://w3id.org/amlkg/rec/2> <http://www.w3.org/ns/oa#exact> ?q }")
    assert quote == [{"q": Literal("Ivosidenib (Tibsovo) \u2013 for IDH1 \u00e9")}]


def test_replace_graph_with_nothing_removes_it(oxigraph_server):
    server = oxigraph_server
    for gsp in (server.gsp_url, None):
        server.clear()
        writer = remote(server.query_url, read_only=False, gsp_url=gsp)
        g = AML + "graph/test/empty-me"
        writer.replace_graph(g, b"<urn:a> <urn:b> <urn:c> .\n")
        assert g in writer.named_graphs()
        writer.replace_graph(g, b"")
        assert g not in writer.named_graphs()
        writer.replace_graph(g, b"")  # absent already: fine


def test_read_only_store_refuses_writes(oxigraph_server):
    store = open_store(oxigraph_server.query_url, read_only=True, settings=RemoteSettings())
    with pytest.raises(StoreError, match="read-only"):
        store.replace_graph(AML + "graph/x", b"")
    with pytest.raises(StoreError, match="read-only"):
        store.publish({}, "v")


def test_bad_data_and_bad_graph_iri_are_refused(oxigraph_server):
    writer = remote(oxigraph_server.query_url, read_only=False)
    with pytest.raises(StoreError, match="N-Triples"):
        writer.replace_graph(AML + "graph/x", b'<urn:a> <urn:b> "x" } } ; DROP ALL ; #\n')
    with pytest.raises(BindingError):
        writer.replace_graph("urn:x> } ; DROP ALL #", b"<urn:a> <urn:b> <urn:c> .\n")


def test_syntax_error_is_located(oxigraph_server):
    store = remote(oxigraph_server.query_url)
    with pytest.raises(QuerySyntaxError) as e:
        store.raw("SELECT ?x WHERE {\n  ?x ?p \n}", "application/sparql-results+json",
                  base_iri="http://example.org/")
    assert e.value.line == 3  # the BASE line added for base_iri is not counted
    with pytest.raises(QuerySyntaxError):
        store.raw('INSERT DATA { <urn:a> <urn:b> "c" }', "application/sparql-results+json")


def test_closed_store_refuses_calls(oxigraph_server):
    store = remote(oxigraph_server.query_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ask("ASK {}")


def test_nothing_listening_at_all():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    store = remote("http://127.0.0.1:%d/sparql" % port, retries=2, backoff=0.01)
    with pytest.raises(StoreUnavailable, match="unavailable"):
        store.ask("ASK {}")


# -- what goes over the wire (a scripted fake server) --------------------------------------------
def test_queries_are_form_posts_with_accept(fake_sparql):
    fake_sparql.script((200, ONE_ROW, JSON))
    store = remote(fake_sparql.url)
    assert store.select("SELECT ?x WHERE { ?x ?p ?o }") == [{"x": Literal("1")}]
    req = fake_sparql.requests[0]
    assert req["method"] == "POST" and req["path"] == "/sparql"
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert req["headers"]["Accept"] == "application/sparql-results+json"
    assert set(req["form"]) == {"query"}  # no format=/output= guesses

    fake_sparql.script((200, b"<urn:a> <urn:b> <urn:c> .\n", {"Content-Type": "text/plain"}))
    store.raw("CONSTRUCT WHERE { ?s ?p ?o }", "application/n-triples",
              default_graphs=["urn:g1", "urn:g2"], named_graphs=["urn:g3"])
    req = fake_sparql.requests[1]
    assert req["headers"]["Accept"] == "application/n-triples"
    assert req["form"]["default-graph-uri"] == ["urn:g1", "urn:g2"]
    assert req["form"]["named-graph-uri"] == ["urn:g3"]


def test_an_update_looking_query_is_still_sent_as_a_query(fake_sparql):
    fake_sparql.script((400, b"error at 1:1: expected SELECT"))
    store = remote(fake_sparql.url, update_url=fake_sparql.url + "-update")
    with pytest.raises(QuerySyntaxError):
        store.raw("DROP ALL", "application/sparql-results+json")
    req = fake_sparql.requests[0]
    assert req["path"] == "/sparql" and set(req["form"]) == {"query"}


def test_updates_go_to_the_update_url(fake_sparql):
    fake_sparql.script((204, b""), (204, b""))
    writer = remote(fake_sparql.url + "/query", read_only=False)
    writer.replace_graph("urn:g", b"<urn:a> <urn:b> <urn:c> .\n")
    req = fake_sparql.requests[0]
    assert req["path"] == "/sparql/update" and req["method"] == "POST"
    assert req["form"]["update"][0].startswith("DROP SILENT GRAPH <urn:g> ;\nINSERT DATA { GRAPH <urn:g>")


def test_graph_store_put(fake_sparql):
    fake_sparql.script((201, b""))
    writer = remote(fake_sparql.url, read_only=False, gsp_url=fake_sparql.url + "-graph-crud-auth",
                    gsp_graph_param="graph-uri")
    writer.replace_graph("http://example.org/g?x=1", b"<urn:a> <urn:b> <urn:c> .\n")
    req = fake_sparql.requests[0]
    assert req["method"] == "PUT"
    assert req["path"] == "/sparql-graph-crud-auth?graph-uri=http%3A%2F%2Fexample.org%2Fg%3Fx%3D1"
    assert req["headers"]["Content-Type"] == "text/turtle"
    assert req["body"] == b"<urn:a> <urn:b> <urn:c> .\n"


def test_settings_come_from_the_environment():
    env = {"KG_STORE_UPDATE_URL": "http://h/up", "KG_STORE_GSP_URL": "http://h/gsp",
           "KG_STORE_CONNECT_TIMEOUT": "1.5", "KG_STORE_READ_TIMEOUT": "7", "KG_STORE_RETRIES": "0",
           "KG_STORE_USER": "u", "KG_STORE_PASSWORD": "pw-not-shown"}
    s = RemoteStore("http://h/sparql", settings=RemoteSettings.from_environ(env))
    assert (s.update_url, s.gsp_url, s.settings.connect_timeout, s.default_timeout, s.settings.retries,
            s.settings.user) == ("http://h/up", "http://h/gsp", 1.5, 7.0, 0, "u")
    assert "pw-not-shown" not in repr(s) and "pw-not-shown" not in repr(s.settings)
    # explicit settings win over the environment, and a call's own timeout over both
    assert RemoteStore("http://h/sparql", settings=RemoteSettings.from_environ(env, update_url="http://h/u2")
                       ).update_url == "http://h/u2"
    assert RemoteStore("http://h/sparql", timeout=2, settings=RemoteSettings.from_environ(env)).default_timeout == 2
    with pytest.raises(StoreError, match="basic or digest"):
        RemoteSettings.from_environ({"KG_STORE_AUTH": "kerberos"})
    with pytest.MonkeyPatch.context() as mp:  # no settings given: the process environment's
        for k, v in env.items():
            mp.setenv(k, v)
        assert RemoteStore("http://h/sparql").settings == RemoteSettings.from_environ(env)


def test_basic_auth_is_sent_up_front(fake_sparql):
    fake_sparql.script((200, ONE_ROW, JSON))
    store = remote(fake_sparql.url, user="amlkg", password="s3cret", auth="basic")
    store.select("SELECT ?x WHERE {}")
    expected = "Basic " + base64.b64encode(b"amlkg:s3cret").decode()
    assert fake_sparql.requests[0]["headers"]["Authorization"] == expected


def test_auth_answers_the_servers_challenge(fake_sparql):
    challenge = {"WWW-Authenticate": 'Basic realm="SPARQL"', "Content-Type": "text/plain"}
    fake_sparql.script((401, b"who are you", challenge), (200, ONE_ROW, JSON))
    store = remote(fake_sparql.url, user="amlkg", password="s3cret")
    assert store.select("SELECT ?x WHERE {}") == [{"x": Literal("1")}]
    assert "Authorization" not in fake_sparql.requests[0]["headers"]
    assert fake_sparql.requests[1]["headers"]["Authorization"].startswith("Basic ")
    assert fake_sparql.requests[1]["form"] == fake_sparql.requests[0]["form"]


def test_refused_credentials_are_a_store_error_not_unavailable(fake_sparql):
    fake_sparql.script((403, b"forbidden"))
    with pytest.raises(StoreError, match="KG_STORE_USER") as e:
        remote(fake_sparql.url).ask("ASK {}")
    assert not isinstance(e.value, StoreUnavailable)


def test_connections_are_kept_alive(fake_sparql):
    store = remote(fake_sparql.url)
    for _ in range(3):
        store.select("SELECT ?x WHERE {}")
    assert len({r["client"] for r in fake_sparql.requests}) == 1
    assert fake_sparql.requests[0]["headers"]["Connection"] == "keep-alive"


def test_a_connection_closed_while_idle_is_replaced_at_once(fake_sparql):
    fake_sparql.drop_connections = True
    store = remote(fake_sparql.url, retries=1, backoff=2.0)  # a backoff would show in the time
    t0 = time.monotonic()
    for _ in range(3):
        assert store.select("SELECT ?x WHERE {}") == []
    assert time.monotonic() - t0 < 1.5
    assert len(fake_sparql.requests) == 3
    assert len({r["client"] for r in fake_sparql.requests}) == 3


def test_an_unread_or_cut_answer_is_not_reused(fake_sparql):
    fake_sparql.script((200, ONE_ROW, JSON, 1.0))
    store = remote(fake_sparql.url)
    with pytest.raises(QueryTimeout):
        store.select("SELECT ?x WHERE {}", timeout=0.2)
    time.sleep(1.0)  # the late answer arrives on the abandoned connection, not on the next one
    assert store.select("SELECT ?x WHERE {}") == []
    assert fake_sparql.requests[0]["client"] != fake_sparql.requests[1]["client"]


# -- retries, timeouts, server errors ------------------------------------------------------------
def test_gateway_errors_are_retried_with_backoff(fake_sparql):
    fake_sparql.script((503, b"starting"), (502, b"bad gateway"), (200, ONE_ROW, JSON))
    store = remote(fake_sparql.url, retries=3, backoff=0.05)
    t0 = time.monotonic()
    assert store.select("SELECT ?x WHERE {}") == [{"x": Literal("1")}]
    assert len(fake_sparql.requests) == 3
    assert time.monotonic() - t0 >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s


def test_a_server_that_stays_down_gives_unavailable_with_its_retry_after(fake_sparql):
    for _ in range(3):
        fake_sparql.script((503, b"maintenance", {"Retry-After": "42", "Content-Type": "text/plain"}))
    store = remote(fake_sparql.url, retries=2, backoff=0.01)
    with pytest.raises(StoreUnavailable) as e:
        store.select("SELECT ?x WHERE {}")
    assert e.value.retry_after == 42
    assert len(fake_sparql.requests) == 3
    # recovers as soon as the server does (the fake's default answer is an empty result)
    assert store.select("SELECT ?x WHERE {}") == []


def test_read_timeout_is_query_timeout_and_not_retried(fake_sparql):
    fake_sparql.script((200, ONE_ROW, JSON, 3.0))
    store = remote(fake_sparql.url, retries=3)
    t0 = time.monotonic()
    with pytest.raises(QueryTimeout):
        store.select("SELECT ?x WHERE {}", timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert len(fake_sparql.requests) == 1


def test_server_side_timeout_message_is_query_timeout(fake_sparql):
    fake_sparql.script((500, b"Virtuoso S1T00 Error SR171: Transaction timed out"))
    with pytest.raises(QueryTimeout):
        remote(fake_sparql.url).select("SELECT ?x WHERE {}")
    fake_sparql.script((500, b"Virtuoso 42000 Error SR186: No permission"))
    with pytest.raises(StoreError, match="SR186"):
        remote(fake_sparql.url).select("SELECT ?x WHERE {}")


def test_virtuoso_style_answers_are_read(fake_sparql):
    """typed-literal, "1" booleans and quoted ASK booleans, as older servers send them."""
    body = (b'{"head":{"link":[],"vars":["b","s"]},"results":{"distinct":false,"ordered":true,"bindings":['
            b'{"b":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#boolean","value":"1"},'
            b'"s":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#string","value":"x"}}]}}')
    fake_sparql.script((200, body, {"Content-Type": "application/sparql-results+json; charset=UTF-8"}),
                       (200, b'{"head":{"link":[]},"boolean":"true"}', JSON))
    store = remote(fake_sparql.url)
    assert store.select("SELECT ?b ?s WHERE {}") == [{"b": Literal(True), "s": Literal("x")}]
    assert store.ask("ASK {}") is True


def test_gzip_answers_are_decoded(fake_sparql):
    import gzip
    fake_sparql.script((200, gzip.compress(ONE_ROW), {**JSON, "Content-Encoding": "gzip"}))
    store = remote(fake_sparql.url)
    assert store.select("SELECT ?x WHERE {}") == [{"x": Literal("1")}]
    assert fake_sparql.requests[0]["headers"]["Accept-Encoding"] == "gzip"


def test_raw_refuses_a_mislabelled_answer(fake_sparql):
    fake_sparql.script((200, b"<html>true</html>", {"Content-Type": "text/html"}))
    with pytest.raises(StoreError, match="text/html"):
        remote(fake_sparql.url).raw("ASK {}", "application/sparql-results+json")


def test_graph_version_is_remembered_briefly(fake_sparql):
    fake_sparql.version = "v7"
    store = remote(fake_sparql.url, version_ttl=60)
    assert store.graph_version() == store.graph_version() == "v7"
    assert fake_sparql.version_lookups == 1
    listed = len(fake_sparql.requests)  # our graphs, listed for the new version
    assert listed >= 1
    store.refresh()  # the served store's periodic check forgets it
    assert store.graph_version() == "v7" and fake_sparql.version_lookups == 2
    assert len(fake_sparql.requests) == listed  # the same version: the same graphs, not listed again


def test_auth_answers_a_digest_challenge(fake_sparql):
    challenge = {"WWW-Authenticate": 'Digest realm="SPARQL", nonce="n0nce", qop="auth", algorithm=MD5',
                 "Content-Type": "text/plain"}
    fake_sparql.script((401, b"who are you", challenge), (200, ONE_ROW, JSON))
    store = remote(fake_sparql.url, user="amlkg", password="s3cret")
    assert store.select("SELECT ?x WHERE {}") == [{"x": Literal("1")}]
    assert "Authorization" not in fake_sparql.requests[0]["headers"]
    answer = fake_sparql.requests[1]["headers"]["Authorization"]
    assert answer.startswith("Digest ") and 'username="amlkg"' in answer and "s3cret" not in answer
    assert fake_sparql.requests[1]["form"] == fake_sparql.requests[0]["form"]


def test_settings_given_ignore_the_environment(fake_sparql, monkeypatch):
    monkeypatch.setenv("KG_STORE_USER", "from-the-environment")
    monkeypatch.setenv("KG_STORE_AUTH", "basic")
    remote(fake_sparql.url).select("SELECT ?x WHERE {}")
    assert "Authorization" not in fake_sparql.requests[0]["headers"]


def test_the_served_store_takes_the_apps_store_settings(monkeypatch):
    """KG_STORE_* are layered like every setting (kg_service.config): a test's mapping (or a config
    file) wins over the environment for the served store, and text settings stay text."""
    from kg_service import create_app
    from kg_service.served_store import served_store
    monkeypatch.setenv("KG_STORE_RETRIES", "5")
    monkeypatch.setenv("KG_STORE_PASSWORD", "true")  # JSON would read it as a boolean
    app = create_app({"TESTING": True, "KG_STORE": "http://127.0.0.1:9/query", "KG_STORE_RETRIES": 0,
                      "KG_REFRESH_INTERVAL": 1e9})  # nothing contacted: no refresh on the first get
    settings = served_store(app).get().settings
    assert settings.retries == 0 and settings.password == "true"
