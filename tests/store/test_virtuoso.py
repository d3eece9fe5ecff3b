"""The remote backend against a real Virtuoso 7 (Debian `virtuoso-opensource-7`), started on loopback
by `../shared/tools/virtuoso/virtuoso.sh`: both write paths (Graph Store PUT and SPARQL Update, each
with digest auth), and the same rows as the embedded backend for the same queries.

Virtuoso's unscoped default graph also holds its own system graphs, so the comparison scopes each
query to our graphs with FROM / FROM NAMED, as a client of a shared server should.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rdflib.compare import isomorphic

from kg_service.store import META_GRAPH, QuerySyntaxError, StoreError, StoreUnavailable
from kg_service.store.embedded import EmbeddedStore
from kg_service.store.remote import RemoteSettings, RemoteStore

from tests.store.store_support import (PREFIXES, QUERIES, SAMPLE_GRAPHS, SAMPLE_TRIPLES, VERSION, canonical_rows,
                           free_port, publish_embedded)

SCRIPT_PARTS = ("tools", "virtuoso", "virtuoso.sh")
RW_USER, RW_PW = "sparql_rw", "sparql_rw_pw"  # virtuoso.sh defaults; the server binds 127.0.0.1 only


def _virtuoso_or_skip() -> None:
    """Tests install nothing: `make system-deps` (run by `make test` as root) installs Virtuoso."""
    missing = [program for program in ("virtuoso-t", "isql-vt") if shutil.which(program) is None]
    if missing:
        pytest.skip("needs Virtuoso 7 (%s not found): install the Debian package virtuoso-opensource-7 "
                    "(`apt-get install virtuoso-opensource-7` as root, or `make system-deps` as root)"
                    % " and ".join(missing))


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory, request):
    """A fresh Virtuoso on free loopback ports; its base URL."""
    script = Path(__file__).resolve().parents[3] / "shared" / Path(*SCRIPT_PARTS)
    if not script.exists():
        pytest.skip("../shared is absent (the Virtuoso helper lives beside the project): %s" % script)
    _virtuoso_or_skip()
    db = tmp_path_factory.mktemp("virtuoso") / "db"
    http_port, sql_port = free_port(), free_port()
    env = {**os.environ, "VIRT_BUFFERS": "20000", "VIRT_START_TIMEOUT": "60"}
    started = subprocess.run(["bash", str(script), "start", str(db), str(http_port), str(sql_port)],
                             capture_output=True, text=True, timeout=90, env=env)
    if started.returncode != 0:
        pytest.fail("virtuoso.sh start failed: %s %s" % (started.stdout[-1500:], started.stderr[-1500:]))
    yield "http://127.0.0.1:%d" % http_port
    subprocess.run(["bash", str(script), "stop", str(db)], capture_output=True, timeout=90)


def _writer(base: str, *, gsp: bool, auth: str | None = None, password: str = RW_PW) -> RemoteStore:
    return RemoteStore(base + "/sparql", read_only=False, settings=RemoteSettings(
        update_url=base + "/sparql-auth", gsp_url=base + "/sparql-graph-crud-auth" if gsp else None,
        user=RW_USER, password=password, auth=auth))


def _scoped(query: str) -> str:
    """The query with FROM / FROM NAMED for each of our graphs, before its first WHERE."""
    graphs = [*SAMPLE_GRAPHS, META_GRAPH]
    dataset = " ".join("FROM <%s>" % g for g in graphs) + " " + " ".join("FROM NAMED <%s>" % g for g in graphs)
    return re.sub(r"\bWHERE\b", dataset + " WHERE", query, count=1)


@pytest.fixture(scope="module")
def both(virtuoso, tmp_path_factory):
    embedded = EmbeddedStore(publish_embedded(tmp_path_factory.mktemp("emb") / "store", SAMPLE_GRAPHS,
                                              VERSION), read_only=True)
    _writer(virtuoso, gsp=True).publish(SAMPLE_GRAPHS, VERSION)
    remote = RemoteStore(virtuoso + "/sparql", settings=RemoteSettings())
    yield embedded, remote
    embedded.close()


@pytest.mark.parametrize("auth", [None, "digest"], ids=["auth-from-challenge", "auth-digest"])
@pytest.mark.parametrize("gsp", [True, False], ids=["graph-store-put", "sparql-update"])
def test_publish_with_digest_auth(virtuoso, gsp, auth):
    version = "%s-%s-%s" % (VERSION, gsp, auth)
    _writer(virtuoso, gsp=gsp, auth=auth).publish(SAMPLE_GRAPHS, version)
    reader = RemoteStore(virtuoso + "/sparql", settings=RemoteSettings(version_ttl=0))
    assert reader.graph_version() == version
    assert set(SAMPLE_GRAPHS) | {META_GRAPH} <= set(reader.named_graphs())
    n = reader.select(_scoped("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))[0]["n"]
    assert int(n) == SAMPLE_TRIPLES + 1
    # the restriction's blank node stays one node
    rows = reader.select("SELECT ?p ?o WHERE { <https://w3id.org/amlkg/IDH1MutatedAML> "
                         "<http://www.w3.org/2002/07/owl#equivalentClass> ?x . ?x ?p ?o }")
    assert len(rows) == 3


# where Virtuoso itself departs from SPARQL 1.1, the test says so (and fails loudly if it stops)
VIRTUOSO_DEVIATIONS = {
    "computed": "Virtuoso types a comparison's value (?y > 2000) as xsd:integer 1, not xsd:boolean true",
}


@pytest.mark.parametrize("gsp", [True, False], ids=["graph-store-put", "sparql-update"])
def test_wrong_password_is_refused_not_unavailable(virtuoso, gsp):
    with pytest.raises(StoreError, match="refused access") as e:
        _writer(virtuoso, gsp=gsp, password="wrong").replace_graph(META_GRAPH, b"")
    assert not isinstance(e.value, StoreUnavailable)
    # and the anonymous endpoint stays read-only
    anonymous = RemoteStore(virtuoso + "/sparql", read_only=False, settings=RemoteSettings())
    with pytest.raises(StoreError):
        anonymous.replace_graph(META_GRAPH, b"<urn:a> <urn:b> <urn:c> .\n")


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=VIRTUOSO_DEVIATIONS[n]))
    if n in VIRTUOSO_DEVIATIONS else n for n in sorted(QUERIES)])
def test_virtuoso_gives_the_embedded_rows(both, name):
    embedded, remote = both
    q = _scoped(PREFIXES + QUERIES[name])
    e_rows, r_rows = embedded.select(q), remote.select(q)
    assert e_rows
    assert canonical_rows(e_rows) == canonical_rows(r_rows)


def test_virtuoso_ask_construct_raw(both):
    embedded, remote = both
    q = _scoped(PREFIXES + "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert isomorphic(embedded.construct(q), remote.construct(q))
    assert remote.ask(_scoped("ASK WHERE { ?s ?p 'Xospata'@en }")) is True
    assert remote.ask(_scoped("ASK WHERE { ?s ?p 'Xospata' }")) is False
    body = remote.raw("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "text/csv",
                      default_graphs=list(SAMPLE_GRAPHS))
    assert body.decode().split()[-1].strip('"') == str(SAMPLE_TRIPLES)
    with pytest.raises(QuerySyntaxError) as e:
        remote.select("SELECT ?x WHERE {\n ?x ?p \n}")
    assert e.value.line is not None
