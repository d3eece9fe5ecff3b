"""Safe build inputs (loaders/safe_inputs.py, loaders/safe_xml.py): the build reads only the files the
registry names, inside the project; RDF/XML is parsed with entity expansion bounded and external
entities refused; every malicious input fails the build with a clear message, fetches nothing, and
leaves the served store exactly as it was."""
from __future__ import annotations

import http.server as httpserver
import os
import threading
from pathlib import Path

import pytest

import loaders.build as build_module
from loaders.build import BuildError, build
from loaders.safe_xml import UnsafeXML, parse_rdfxml

from .support import ServeProcess, http, served_version

REPO = Path(__file__).resolve().parents[2]
OWL_HEAD = b'<?xml version="1.0"?>\n'
RDF_OPEN = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">')


class Canary:
    """A loopback HTTP server that records every request: a safe build never reaches it."""

    def __init__(self):
        hits = self.hits = []

        class Handler(httpserver.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                body = b'<!ENTITY leak "fetched">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def canary():
    c = Canary()
    yield c
    c.close()


@pytest.fixture(scope="module")
def served(store_path, tmp_path_factory):
    """A store being served by a real server while the malicious builds run against it."""
    from .support import copy_store
    store = copy_store(store_path, tmp_path_factory.mktemp("safe-build") / "store")
    server = ServeProcess(store, env={"KG_REQUEST_LOG": "off"}).start()
    yield store, server
    server.stop()


def ontology_with(doctype: bytes, label: bytes) -> bytes:
    return (OWL_HEAD + doctype + b"\n" + RDF_OPEN +
            b'<rdf:Description rdf:about="urn:x"><rdfs:label>' + label + b"</rdfs:label></rdf:Description></rdf:RDF>")


LAUGHS = (b'<!DOCTYPE rdf:RDF [<!ENTITY lol "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)) + b"]>")

XML_CASES = {
    "xxe-file-read": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"),
                      "entity declaration not allowed"),
    "xxe-network": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "%s/x">]>' % c.url.encode(), b"&x;"),
                    "entity declaration not allowed"),
    "external-dtd": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF SYSTEM "%s/evil.dtd">' % c.url.encode(), b"x"),
                     "external DTD not allowed"),
    "parameter-entity": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF [<!ENTITY %% p SYSTEM "%s/p.dtd"> %%p;]>'
                                                 % c.url.encode(), b"x"), "entity declaration not allowed"),
    "billion-laughs": (lambda c: ontology_with(LAUGHS, b"&lol9;"), "entity declaration not allowed"),
    "quadratic-blowup": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF [<!ENTITY a "' + b"A" * 2000 + b'">]>',
                                                 b"&a;" * 600), "would expand to 1200000 characters"),
    "long-entity": (lambda c: ontology_with(b'<!DOCTYPE rdf:RDF [<!ENTITY a "' + b"A" * 5000 + b'">]>', b"&a;"),
                    "is 5000 characters long"),
}


def assert_untouched(served, before: tuple) -> None:
    store, server = served
    assert (served_version(store), http("GET", server.url + "/health")[2]) == before
    assert not [p for p in (Path(store) / "versions").iterdir() if p.name.startswith(".staging")]


def snapshot(served) -> tuple:
    store, server = served
    return served_version(store), http("GET", server.url + "/health")[2]


@pytest.mark.parametrize("case", sorted(XML_CASES))
def test_malicious_rdfxml_fails_the_build_and_changes_nothing(project, served, canary, case):
    make, message = XML_CASES[case]
    (project / "ontology" / "amlkg.owl").write_bytes(make(canary))
    before = snapshot(served)
    with pytest.raises(BuildError) as e:
        build(served[0], release_dir=None, log=lambda *a: None)
    assert message in str(e.value) and "amlkg.owl" in str(e.value)
    assert canary.hits == []                       # nothing was fetched
    assert_untouched(served, before)


@pytest.mark.parametrize("case", sorted(XML_CASES))
def test_the_parser_alone_refuses_them_too(canary, monkeypatch, case):
    """Second layer: with the byte-level check switched off, the defused SAX parser still refuses
    every entity that is not a simple internal one, and fetches nothing."""
    import loaders.safe_xml as safe_xml
    monkeypatch.setattr(safe_xml, "check_xml", lambda data, name: None)
    make, _message = XML_CASES[case]
    data = make(canary)
    if case in ("quadratic-blowup",):
        pytest.skip("simple entities are the parser's to expand; their use is bounded by check_xml")
    with pytest.raises((UnsafeXML, ValueError)):
        g = parse_rdfxml(data, "evil.owl")
        assert not any("root:" in str(o) or "fetched" in str(o) for o in g.objects())
        raise ValueError("parsed without the entity")  # an ignored external DTD is acceptable
    assert canary.hits == []


def edit_registry(project: Path, old: str, new: str) -> None:
    path = project / "loaders" / "sources.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


REGISTRY_CASES = {
    "dotdot-escape": (("path: data/fda-approvals.tsv", "path: ../../../../../../etc/passwd"), "resolves outside the project"),
    "absolute-path": (("path: data/fda-approvals.tsv", "path: /etc/passwd"), "is an absolute path"),
    "foreign-loader": (("loader: loaders.fda_approvals", "loader: os"), "is not a module of the loaders package"),
    "reserved-graph": (("graph: https://w3id.org/amlkg/graph/fda-approvals", "graph: https://w3id.org/amlkg/graph/meta"),
                       "must be an IRI under"),
    "curator-graph": (("graph: https://w3id.org/amlkg/graph/fda-approvals", "graph: https://w3id.org/amlkg/graph/curator"),
                      "must be an IRI under"),
}


@pytest.mark.parametrize("case", sorted(REGISTRY_CASES))
def test_the_registry_cannot_reach_outside_the_project(project, served, case):
    (old, new), message = REGISTRY_CASES[case]
    edit_registry(project, old, new)
    before = snapshot(served)
    with pytest.raises(BuildError) as e:
        build(served[0], release_dir=None, log=lambda *a: None)
    assert message in str(e.value)
    assert_untouched(served, before)


def test_a_symlink_out_of_the_project_is_refused(project, served):
    link = project / "loaders" / "data" / "fda-approvals.tsv"
    link.unlink()
    os.symlink("/etc/passwd", link)
    before = snapshot(served)
    with pytest.raises(BuildError) as e:
        build(served[0], release_dir=None, log=lambda *a: None)
    assert "resolves outside the project" in str(e.value)
    assert_untouched(served, before)


def test_the_ontology_may_live_beside_loaders(project):
    """The one `..` the registry needs (loaders/ -> ontology/) stays inside the project."""
    sources = build_module.read_sources()
    assert sources[0].files["ontology"] == (project / "ontology" / "amlkg.owl").resolve()


def test_a_huge_file_fails_fast(project, served, monkeypatch):
    monkeypatch.setenv("KG_BUILD_MAX_SOURCE_BYTES", "100000")
    with open(project / "ontology" / "amlkg.owl", "ab") as f:
        f.write(b"<!-- " + b"x" * 200_000 + b" -->")
    before = snapshot(served)
    with pytest.raises(BuildError) as e:
        build(served[0], release_dir=None, log=lambda *a: None)
    assert "source files may be at most 100000" in str(e.value)
    assert_untouched(served, before)


def test_a_yaml_alias_bomb_is_refused(project, served):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ", ".join(["*" + chr(97 + i)] * 10)) for i in range(8))
    (project / "loaders" / "data" / "acs-recommendations.yaml").write_text(bomb)
    before = snapshot(served)
    with pytest.raises(BuildError) as e:
        build(served[0], release_dir=None, log=lambda *a: None)
    assert "YAML aliases would expand" in str(e.value)
    assert_untouched(served, before)


def test_the_real_inputs_still_build(project, served):
    """The checks refuse nothing the project's own sources use (the copy builds as the original)."""
    version = build(str(project / "store"), release_dir=None, log=lambda *a: None)
    assert len(version) == 64


def test_build_cli_prints_one_clear_line(project, tmp_path):
    """`python -m kg_service build` on a malicious input: exit 1, the reason on stderr."""
    import subprocess
    import sys
    (project / "ontology" / "amlkg.owl").write_bytes(XML_CASES["xxe-file-read"][0](None))
    code = ("import loaders.build as b, pathlib, sys; p = pathlib.Path(sys.argv[1]); "
            "b.SOURCES = p / 'loaders' / 'sources.yaml'; b.ROOT = p; "
            "from kg_service.cli import main; raise SystemExit(main(['build', '--store', sys.argv[2]]))")
    r = subprocess.run([sys.executable, "-c", code, str(project), str(tmp_path / "s")], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.startswith("build failed: ") and "entity declaration not allowed" in r.stderr
    assert "Traceback" not in r.stderr
