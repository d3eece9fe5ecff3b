"""The structured request log (kg_service/request_log.py): one JSON line per request with method, path,
status, duration and a keyed query hash; never the query text, the query string, bodies or tokens;
on stderr by default. (Its cost per request is measured in benchmarks/request_log_cost.py.)"""
from __future__ import annotations

import json
import time
import urllib.parse


from kg_service.request_log import query_hash

from .support import TOKEN, ServeProcess, http

SECRET_QUERY = 'SELECT ?s WHERE { ?s ?p "needle-in-the-query-text" }'
PROFILE = "status=relapsed&mutations=IDH1&age=47"


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_one_line_per_request_with_the_fields_and_nothing_sent(make_app, tmp_path):
    log = tmp_path / "requests.jsonl"
    app = make_app(KG_REQUEST_LOG=str(log), KG_LOG_HASH_KEY="k1", KG_CURATOR_TOKEN=TOKEN)
    client = app.test_client()
    accept = {"Accept": "application/sparql-results+json"}
    client.get("/sparql", query_string={"query": SECRET_QUERY}, headers=accept)          # miss
    client.get("/sparql", query_string={"query": SECRET_QUERY}, headers=accept)          # hit
    client.post("/sparql", data={"query": SECRET_QUERY}, headers=accept)                # POST form
    client.get("/api/options?" + PROFILE)
    client.get("/health")
    client.get("/no/such/page")
    client.post("/curator/update", data="INSERT DATA { <urn:x> <urn:y> 'z' }",
                content_type="application/sparql-update", headers={"Authorization": "Bearer " + TOKEN})
    client.post("/curator/update", data="x", content_type="application/sparql-update",
                headers={"Authorization": "Bearer wrong-token-value-here"})
    records = lines_of(log)
    assert len(records) == 8
    for r in records:
        assert r["event"] == "request" and isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0
        assert {"t", "method", "path", "status", "pid"} <= set(r)
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/sparql", 200), ("GET", "/sparql", 200), ("POST", "/sparql", 200),
        ("GET", "/api/options", 200), ("GET", "/health", 200), ("GET", "/no/such/page", 404),
        ("POST", "/curator/update", 403), ("POST", "/curator/update", 401)]
    want = query_hash(SECRET_QUERY, b"k1")
    assert [r.get("query_hash") for r in records[:3]] == [want] * 3    # the same query, however sent
    assert [r.get("cache") for r in records[:2]] == ["miss", "hit"]
    assert records[3]["query_hash"] == query_hash(PROFILE, b"k1")      # the profile, only hashed
    text = log.read_text()
    for secret in ("needle", "IDH1", "relapsed", "age=", "mutations=", TOKEN, "wrong-token", "Bearer", "urn:x"):
        assert secret not in text


def test_the_hash_key_keeps_profiles_unguessable(make_app, tmp_path):
    """Two servers with different keys log different hashes for the same request: without the key a
    hash cannot be matched against a list of likely profiles."""
    hashes = []
    for key in ("key-a", "key-b"):
        log = tmp_path / ("%s.jsonl" % key)
        make_app(KG_REQUEST_LOG=str(log), KG_LOG_HASH_KEY=key).test_client().get("/api/options?" + PROFILE)
        hashes.append(lines_of(log)[0]["query_hash"])
    assert hashes[0] != hashes[1]


def test_log_off_and_stdout(make_app, capfd):
    make_app(KG_REQUEST_LOG="off").test_client().get("/health")
    make_app(KG_REQUEST_LOG="stdout").test_client().get("/health")
    out, err = capfd.readouterr()
    assert json.loads(out.strip())["path"] == "/health"
    assert '"event":"request"' not in err


def test_serve_logs_json_lines_on_stderr_by_default(own_store):
    """Under the real server: every request one JSON line on stderr, the workers sharing one hash key
    (drawn by `serve`), so the same query hashes alike in every worker."""
    with ServeProcess(own_store, env={"KG_REQUEST_LOG": "stderr", "KG_LOG_HASH_KEY": ""}).start() as server:
        for _ in range(6):
            http("GET", server.url + "/sparql?" + urllib.parse.urlencode({"query": SECRET_QUERY}),
                 headers={"Accept": "application/sparql-results+json"})
        http("GET", server.url + "/api/options?" + PROFILE)
        time.sleep(0.2)
        output = server.output()
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"event":"request"')]
    sparql = [r for r in records if r["path"] == "/sparql"]
    assert len(sparql) == 6 and len({r["query_hash"] for r in sparql}) == 1
    assert any(r["path"] == "/api/options" for r in records)
    assert "needle" not in output and "IDH1" not in output

