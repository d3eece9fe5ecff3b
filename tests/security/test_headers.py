"""Response headers and links (kg_service/headers.py, kg_service/ui): nosniff on every answer (static
files, errors, the cached SPARQL fast path, 408/413/414), a policy with frame-ancestors on every HTML
answer (the API docs included), CORS as SECURITY.md says it, and entity pages that link only http(s)
IRIs even when a curator inserts a javascript: one."""
from __future__ import annotations

import re
import urllib.parse

import pytest

from .support import TOKEN, ServeProcess, curator_update, http

ORIGIN = {"Origin": "https://elsewhere.example"}
SELECT = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"
HOSTILE = ("javascript:alert(1)", "JaVaScRiPt:alert(2)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgzKTwvc2NyaXB0Pg==",
           "vbscript:msgbox(4)", "file:///etc/passwd")


@pytest.fixture(scope="module")
def server(tmp_path_factory, store_path):
    from .support import copy_store
    store = copy_store(store_path, tmp_path_factory.mktemp("headers") / "store")
    server = ServeProcess(store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_MAX_BODY_BYTES": "5000",
                                      "KG_MAX_URL_BYTES": "3000"}).start()
    yield server
    server.stop()


def answers(server) -> dict[str, tuple[int, object, bytes]]:
    """One answer of every kind the service gives, by name."""
    base = server.url
    sparql = base + "/sparql?" + urllib.parse.urlencode({"query": SELECT})
    out = {
        "health": http("GET", base + "/health"),
        "home": http("GET", base + "/", headers={"Accept": "text/html"}),
        "entity": http("GET", base + "/entity/Ivosidenib", headers={"Accept": "text/html"}),
        "entity-turtle": http("GET", base + "/entity/Ivosidenib", headers={"Accept": "text/turtle"}),
        "pathway": http("GET", base + "/pathway.svg"),
        "favicon": http("GET", base + "/favicon.ico"),
        "static-css": http("GET", base + "/ui/static/style.css"),
        "api-docs": http("GET", base + "/api/docs"),
        "openapi": http("GET", base + "/openapi.json"),
        "api-options": http("GET", base + "/api/options?status=relapsed", headers=ORIGIN),
        "api-400": http("GET", base + "/api/options?status=nonsense", headers=ORIGIN),
        "api-404": http("GET", base + "/api/entities/NoSuchThing", headers=ORIGIN),
        "unknown-404": http("GET", base + "/no/such/page"),
        "sparql-page": http("GET", base + "/sparql", headers={"Accept": "text/html"}),
        "sparql": http("GET", sparql, headers={"Accept": "application/sparql-results+json", **ORIGIN}),
        "sparql-cached": http("GET", sparql, headers={"Accept": "application/sparql-results+json", **ORIGIN}),
        "sparql-400": http("GET", base + "/sparql?query=SELEKT", headers=ORIGIN),
        "413": http("POST", base + "/sparql", data=b"ASK {} #" + b"x" * 6000,
                    headers={"Content-Type": "application/sparql-query"}),
        "414": http("GET", base + "/api/search?q=" + "a" * 4000),
        "414-sparql": http("GET", base + "/sparql?query=" + "a" * 4000),
        "405": http("DELETE", base + "/api/options"),
        "curator-401": http("POST", base + "/curator/update", data=b"x",
                            headers={"Content-Type": "application/sparql-update", **ORIGIN}),
    }
    return out


def test_every_answer_has_nosniff_and_every_html_answer_a_frame_policy(server):
    seen = answers(server)
    sparql = server.url + "/sparql?" + urllib.parse.urlencode({"query": SELECT})
    repeats = [http("GET", sparql, headers={"Accept": "application/sparql-results+json"}) for _ in range(6)]
    hits = [h for _s, h, _b in repeats if h.get("X-AMLKG-Cache") == "hit"]
    assert hits, "no answer came from the cached fast path"
    assert all(h.get("X-Content-Type-Options") == "nosniff" for h in hits)
    assert seen["413"][0] == 413 and seen["414"][0] == 414 and seen["414-sparql"][0] == 414
    html = 0
    for name, (status, headers, body) in seen.items():
        assert headers.get("X-Content-Type-Options") == "nosniff", (name, status, dict(headers))
        if headers.get_content_type() in ("text/html", "image/svg+xml"):
            html += headers.get_content_type() == "text/html"
            csp = headers.get("Content-Security-Policy") or ""
            assert "frame-ancestors 'self'" in csp, (name, csp)
            # scripts: none, or only our own files (the SPARQL query page's editor)
            assert re.search(r"script-src '(none|self)'(;|$)", csp) or "default-src 'none'" in csp, (name, csp)
    assert html >= 4
    docs_csp = seen["api-docs"][1]["Content-Security-Policy"]
    assert "default-src 'none'" in docs_csp and "frame-ancestors" in docs_csp


def test_cors_matches_security_md(server):
    """SECURITY.md: /sparql and /api/* answer Access-Control-Allow-Origin: * (never with credentials)
    and answer preflights; /curator/* sends no CORS header at all."""
    seen = answers(server)
    for name in ("api-options", "api-400", "api-404", "sparql", "sparql-cached", "sparql-400", "openapi"):
        headers = seen[name][1]
        assert headers.get("Access-Control-Allow-Origin") == "*", name
        assert "Access-Control-Allow-Credentials" not in headers, name
    status, headers, _ = http("OPTIONS", server.url + "/api/options", headers={
        **ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert status in (200, 204)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "content-type" in headers["Access-Control-Allow-Headers"].lower()
    for resp in (seen["curator-401"],
                 http("OPTIONS", server.url + "/curator/update",
                      headers={**ORIGIN, "Access-Control-Request-Method": "POST"})):
        assert not any(k.lower().startswith("access-control-") for k in resp[1].keys()), dict(resp[1])


def test_entity_pages_link_only_http_iris(server):
    """A curator-inserted javascript:/data:/file: IRI is shown, never linked, wherever it appears."""
    subject = "https://w3id.org/amlkg/Ivosidenib"
    triples = " ".join("<%s> <%s> <%s> ." % (subject, prop, iri) for iri in HOSTILE for prop in (
        "http://www.w3.org/2004/02/skos/core#exactMatch", "http://www.w3.org/2000/01/rdf-schema#seeAlso"))
    status, body = curator_update(server.url, "INSERT DATA { GRAPH <https://w3id.org/amlkg/graph/curator> { %s } }"
                                  % triples)
    assert status == 200, body
    for path in ("/entity/Ivosidenib", "/?status=relapsed&mutations=IDH1"):
        status, headers, page = http("GET", server.url + path, headers={"Accept": "text/html"})
        assert status == 200
        text = page.decode()
        if path.startswith("/entity"):
            assert "alert(1)" in text  # the value is shown (escaped) …
        for href in re.findall(r'href="([^"]*)"', text) + re.findall(r"href='([^']*)'", text):
            href = href.replace("&amp;", "&")
            assert href.startswith(("/", "#", "?", "http://", "https://")), (path, href)  # … never linked
