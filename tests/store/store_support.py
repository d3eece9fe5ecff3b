"""Helpers for the store tests: sample graphs, a real `oxigraph serve` process on a free loopback
port, a scripted fake SPARQL server, and publishing the same graphs on either backend."""
from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kg_service.store import GRAPH_BASE
from kg_service.store.base import store_query
from kg_service.store.embedded import EmbeddedStore
from kg_service.store.remote import RemoteSettings, RemoteStore

VERSION = "test-version-1"
#: the remote store's version look-up (kg_service/store/queries/graph-version.rq)
VERSION_LOOKUP = store_query("graph-version")
AML = "https://w3id.org/amlkg/"

SAMPLE_GRAPHS = {
    GRAPH_BASE + "test/therapies": (
        '<https://w3id.org/amlkg/gilteritinib> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/FLT3Inhibitor> .\n'
        '<https://w3id.org/amlkg/gilteritinib> <http://www.w3.org/2000/01/rdf-schema#label> "gilteritinib" .\n'
        '<https://w3id.org/amlkg/gilteritinib> <http://www.w3.org/2004/02/skos/core#altLabel> "Xospata"@en .\n'
        '<https://w3id.org/amlkg/gilteritinib> <https://w3id.org/amlkg/approvalYear> "2018"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        '<https://w3id.org/amlkg/gilteritinib> <https://w3id.org/amlkg/oral> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .\n'
        '<https://w3id.org/amlkg/gilteritinib> <https://w3id.org/amlkg/doseMg> "120.5"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n'
        '<https://w3id.org/amlkg/gilteritinib> <https://w3id.org/amlkg/approved> "2018-11-28"^^<http://www.w3.org/2001/XMLSchema#date> .\n'
        '<https://w3id.org/amlkg/ivosidenib> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/IDH1Inhibitor> .\n'
        '<https://w3id.org/amlkg/ivosidenib> <http://www.w3.org/2000/01/rdf-schema#label> "ivosidenib"^^<http://www.w3.org/2001/XMLSchema#string> .\n'
        '<https://w3id.org/amlkg/ivosidenib> <http://www.w3.org/2004/02/skos/core#altLabel> "Tibsovo"@en .\n'
        '<https://w3id.org/amlkg/ivosidenib> <https://w3id.org/amlkg/approvalYear> "2018"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        '<https://w3id.org/amlkg/enasidenib> <http://www.w3.org/2000/01/rdf-schema#label> "enasidenib" .\n'
        '<https://w3id.org/amlkg/enasidenib> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/IDH2Inhibitor> .\n'
    ).encode(),
    GRAPH_BASE + "test/recommendations": (
        '<https://w3id.org/amlkg/rec/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/Recommendation> .\n'
        '<https://w3id.org/amlkg/rec/1> <https://w3id.org/amlkg/recommends> <https://w3id.org/amlkg/gilteritinib> .\n'
        '<https://w3id.org/amlkg/rec/1> <http://www.w3.org/ns/oa#exact> "If the leukemia has a FLT3 mutation, the targeted drug \\"gilteritinib\\" (Xospata) might be an option.\\nSee below." .\n'
        '<https://w3id.org/amlkg/rec/2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/amlkg/Recommendation> .\n'
        '<https://w3id.org/amlkg/rec/2> <https://w3id.org/amlkg/recommends> <https://w3id.org/amlkg/ivosidenib> .\n'
        '<https://w3id.org/amlkg/rec/2> <http://www.w3.org/ns/oa#exact> "Ivosidenib (Tibsovo) \\u2013 for IDH1 \\u00e9" .\n'
    ).encode(),
    # an OWL restriction: blank nodes, which one SPARQL Update request must carry together
    GRAPH_BASE + "test/ontology": (
        '<https://w3id.org/amlkg/IDH1MutatedAML> <http://www.w3.org/2002/07/owl#equivalentClass> _:r .\n'
        '_:r <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Restriction> .\n'
        '_:r <http://www.w3.org/2002/07/owl#onProperty> <https://w3id.org/amlkg/hasMutation> .\n'
        '_:r <http://www.w3.org/2002/07/owl#someValuesFrom> <https://w3id.org/amlkg/IDH1Mutation> .\n'
    ).encode(),
}
SAMPLE_TRIPLES = sum(len(d.strip().splitlines()) for d in SAMPLE_GRAPHS.values())

PREFIXES = ("PREFIX aml: <https://w3id.org/amlkg/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX oa: <http://www.w3.org/ns/oa#> "
            "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> PREFIX owl: <http://www.w3.org/2002/07/owl#>\n")

# competency-style queries over the sample: every term kind, OPTIONAL, aggregates, GRAPH, filters
QUERIES = {
    "labels": "SELECT ?d ?label WHERE { ?d a ?c ; rdfs:label ?label } ORDER BY ?d",
    "typed values": "SELECT ?p ?v WHERE { aml:gilteritinib ?p ?v FILTER(isLiteral(?v)) } ORDER BY ?p STR(?v)",
    "optional unbound": "SELECT ?d ?alt WHERE { ?d rdfs:label ?l OPTIONAL { ?d skos:altLabel ?alt } } ORDER BY ?d",
    "lang filter": "SELECT ?alt WHERE { ?d skos:altLabel ?alt FILTER(langMatches(lang(?alt), 'en')) } ORDER BY ?alt",
    "count by year": "SELECT ?y (COUNT(?d) AS ?n) WHERE { ?d aml:approvalYear ?y } GROUP BY ?y",
    "group_concat": "SELECT (GROUP_CONCAT(?l; separator='|') AS ?all) WHERE { SELECT ?l WHERE { ?d rdfs:label ?l } ORDER BY ?l }",
    "graph": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "quote with newline": "SELECT ?q WHERE { ?r oa:exact ?q } ORDER BY ?q",
    "computed": "SELECT (?y + 1 AS ?next) (STRLEN(?l) AS ?len) (?y > 2000 AS ?recent) WHERE { aml:ivosidenib aml:approvalYear ?y ; rdfs:label ?l }",
    "join": "SELECT ?r ?label WHERE { ?r aml:recommends ?d . ?d rdfs:label ?label } ORDER BY ?r",
    "restriction": "SELECT ?p ?o WHERE { aml:IDH1MutatedAML owl:equivalentClass ?x . ?x ?p ?o FILTER(isIRI(?o)) } ORDER BY ?p",
}


def canonical_rows(rows):
    """Rows in an order-free form that still tells term kinds and datatypes apart."""
    return sorted(sorted((k, type(v).__name__, v.n3()) for k, v in r.items()) for r in rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oxigraph_command() -> str:
    """The `oxigraph` server binary (PyPI package `oxigraph`), or skip."""
    candidate = Path(sys.executable).parent / "oxigraph"
    found = str(candidate) if candidate.exists() else shutil.which("oxigraph")
    if not found:
        pytest.skip("the `oxigraph` command is not installed (pip install oxigraph)")
    return found


class OxigraphServer:
    """A real `oxigraph serve` process on loopback, which a test may stop and start again.

    By default its default graph is kept apart from the named graphs, as Fuseki and a plain
    `oxigraph serve` keep it; `union_default_graph=True` makes it the union of the named graphs, as
    Virtuoso, GraphDB and `oxigraph serve --union-default-graph` do. The service must answer the same
    on both."""

    def __init__(self, location: Path, *, timeout_s: int | None = None, union_default_graph: bool = False):
        self.location, self.timeout_s = Path(location), timeout_s
        self.union_default_graph = union_default_graph
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.query_url, self.update_url, self.gsp_url = (self.base + "/query", self.base + "/update",
                                                         self.base + "/store")
        self.proc: subprocess.Popen | None = None
        self.log_path = location.parent / ("oxigraph-%d.log" % self.port)

    def start(self, timeout: float = 20.0) -> "OxigraphServer":
        cmd = [oxigraph_command(), "serve", "--location", str(self.location),
               "--bind", "127.0.0.1:%d" % self.port]
        if self.union_default_graph:
            cmd.append("--union-default-graph")
        if self.timeout_s:
            cmd += ["--timeout-s", str(self.timeout_s)]  # the remote cuts runaway queries itself
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("oxigraph exited: %s" % self.log_path.read_text()[-2000:])
            try:
                req = urllib.request.Request(self.query_url + "?query=ASK%7B%7D",
                                             headers={"Accept": "application/sparql-results+json"})
                with urllib.request.urlopen(req, timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("oxigraph not answering after %.0f s" % timeout)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def update(self, text: str) -> None:
        data = urllib.parse.urlencode({"update": text}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.update_url, data=data), timeout=10):
            pass

    def clear(self) -> None:
        self.update("DROP ALL")


class FakeSparqlServer:
    """A scripted HTTP server on loopback: answers each request with the next scripted reply
    (status, headers, body, delay) and records what it was sent.

    The remote store's own look-up of the build's version (sent before a query to learn which graphs
    are ours) is answered with `version` ("": no build) and counted in `version_lookups`, not
    recorded, so a script is about the query under test."""

    def __init__(self):
        self.replies: list[tuple[int, dict, bytes, float]] = []
        self.default = (200, {"Content-Type": "application/sparql-results+json"},
                        b'{"head":{"vars":[]},"results":{"bindings":[]}}', 0.0)
        self.requests: list[dict] = []
        self.drop_connections = False
        self.version, self.version_lookups = "", 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if urllib.parse.parse_qs(body.decode("latin-1")).get("query") == [VERSION_LOOKUP]:
                    fake.version_lookups += 1
                    payload = b'{"head":{"vars":["v"]},"results":{"bindings":[%s]}}' % (
                        b'{"v":{"type":"literal","value":"%s"}}' % fake.version.encode() if fake.version else b"")
                    self.send_response(200)
                    self.send_header("Content-Type", "application/sparql-results+json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                fake.requests.append({"method": self.command, "path": self.path,
                                      "client": self.client_address,
                                      "headers": dict(self.headers.items()), "body": body,
                                      "form": urllib.parse.parse_qs(body.decode("latin-1"))})
                status, headers, payload, delay = fake.replies.pop(0) if fake.replies else fake.default
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass
                if fake.drop_connections:  # hang up without saying so, as an idle timeout does
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = "http://127.0.0.1:%d/sparql" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def script(self, *replies) -> None:
        """Queue replies: (status, body) or (status, body, headers) or (status, body, headers, delay)."""
        for r in replies:
            status, body = r[0], r[1]
            headers = r[2] if len(r) > 2 else {"Content-Type": "text/plain"}
            self.replies.append((status, headers, body, r[3] if len(r) > 3 else 0.0))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def publish_embedded(root: Path, graphs: dict, version: str) -> str:
    writer = EmbeddedStore(str(root), read_only=False)
    writer.publish(graphs, version)
    writer.close()
    return str(root)


def publish_remote(server: OxigraphServer, graphs: dict, version: str, *, gsp: bool = True) -> str:
    server.clear()
    settings = RemoteSettings(gsp_url=server.gsp_url if gsp else None)
    with RemoteStore(server.query_url, read_only=False, settings=settings) as writer:
        writer.publish(graphs, version)
    return server.query_url
