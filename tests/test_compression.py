"""gzip and deflate when the client asks (Accept-Encoding), above a small size, on every kind of answer:
SPARQL results (cached and the direct path of an uncached GET), graph answers, downloads, API JSON;
ETags distinct per coding, `Vary: Accept-Encoding`, and 304s still work. Timings are in benchmarks/."""
from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
import requests

_unique = itertools.count()
BIG_SELECT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 2000"
BIG_CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def fetch(url, *, params=None, encoding="gzip", headers=None):
    """(response, the bytes as sent on the wire)."""
    h = {"Accept-Encoding": encoding, **(headers or {})}
    r = requests.get(url, params=params, headers=h, timeout=60, stream=True)
    raw = r.raw.read(decode_content=False)
    return r, raw


def decoded(r, raw: bytes) -> bytes:
    coding = r.headers.get("Content-Encoding")
    if coding == "gzip":
        return gzip.decompress(raw)
    if coding == "deflate":
        return zlib.decompress(raw)
    return raw


def fresh(query: str) -> str:
    """The query made unique (a comment), so it is not in the answer cache: the direct path answers it."""
    return "# %d\n%s" % (next(_unique), query)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_sparql_results_compressed_on_the_direct_path_and_from_the_cache(live_server, coding):
    url = live_server.url + "/sparql"
    query = fresh(BIG_SELECT)
    params = {"query": query}
    accept = {"Accept": "application/sparql-results+json"}
    first, raw1 = fetch(url, params=params, encoding=coding, headers=accept)      # uncached: direct path
    assert first.headers["X-AMLKG-Cache"] == "miss"
    assert first.headers["Content-Encoding"] == coding
    assert "Accept-Encoding" in first.headers["Vary"] and "Accept" in first.headers["Vary"]
    for _ in range(8):  # each worker has its own cache: ask until one answers from it
        again, raw2 = fetch(url, params=params, encoding=coding, headers=accept)
        assert again.headers["Content-Encoding"] == coding
        if again.headers["X-AMLKG-Cache"] == "hit":
            break
    assert again.headers["X-AMLKG-Cache"] == "hit"
    plain, raw3 = fetch(url, params=params, encoding="identity", headers=accept)
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    assert decoded(first, raw1) == decoded(again, raw2) == raw3
    assert len(raw1) * 4 < len(raw3)
    assert int(first.headers["Content-Length"]) == len(raw1)


def test_graph_answers_api_json_and_pages_compressed(live_server):
    base = live_server.url
    for path, params, headers in [
        ("/sparql", {"query": fresh(BIG_CONSTRUCT)}, {"Accept": "application/n-triples"}),
        ("/sparql", {"query": fresh(BIG_CONSTRUCT)}, {"Accept": "application/ld+json"}),
        ("/api/options", {"status": "relapsed"}, {}),
        ("/openapi.json", None, {}),
        ("/", None, {}),
    ]:
        r, raw = fetch(base + path, params=params, headers=headers)
        assert r.status_code == 200, path
        assert r.headers.get("Content-Encoding") == "gzip", path
        body = gzip.decompress(raw)
        assert len(raw) < len(body), path


def test_small_answers_are_left_alone(live_server):
    r, raw = fetch(live_server.url + "/health")
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    r, raw = fetch(live_server.url + "/sparql", params={"query": fresh("ASK {}")},
                   headers={"Accept": "application/sparql-results+json"})
    assert "Content-Encoding" not in r.headers and b"boolean" in raw


def test_etags_differ_per_coding_and_each_revalidates_to_304(live_server):
    url = live_server.url + "/api/options"
    params = {"status": "relapsed", "mutations": "IDH1"}
    plain, _ = fetch(url, params=params, encoding="identity")
    zipped, _ = fetch(url, params=params, encoding="gzip")
    deflated, _ = fetch(url, params=params, encoding="deflate")
    tags = {plain.headers["ETag"], zipped.headers["ETag"], deflated.headers["ETag"]}
    assert len(tags) == 3
    for tag, coding in ((plain.headers["ETag"], "identity"), (zipped.headers["ETag"], "gzip"),
                        (deflated.headers["ETag"], "deflate")):
        r, raw = fetch(url, params=params, encoding=coding, headers={"If-None-Match": tag})
        assert r.status_code == 304 and raw == b"" and r.headers["ETag"] == tag, coding
    # a tag of another representation does not validate this one
    r, _ = fetch(url, params={"status": "refractory"}, headers={"If-None-Match": zipped.headers["ETag"]})
    assert r.status_code == 200


def test_head_and_refused_codings(live_server):
    r = requests.head(live_server.url + "/openapi.json", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    r, raw = fetch(live_server.url + "/openapi.json", encoding="gzip;q=0, br")
    assert "Content-Encoding" not in r.headers and raw.startswith(b"{")
