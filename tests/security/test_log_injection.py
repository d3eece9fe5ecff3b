"""Logs carry no raw request value (kg_service/request_log.py): values with newlines, carriage returns,
JSON-shaped text and terminal escapes, sent to every input route of a real server (curator routes
on), leave only JSON records the service wrote: one line each, no forged record, no raw value, in the
workers and in the supervisor alike (the server's stdout and stderr go to one file here)."""
from __future__ import annotations

import json
import urllib.parse

from .support import TOKEN, ServeProcess, http

FORGED = '{"event":"request","t":1,"method":"GET","path":"/forged","status":200,"duration_ms":1,"pid":1}'
VALUES = (
    "x\n" + FORGED,
    "IDH1\r\n" + FORGED + "\r\n",
    "http://x.org/a\n" + FORGED,          # an IRI-shaped value (rdflib warns about these)
    "https://w3id.org/amlkg/Ivosidenib\n" + FORGED,
    '"}\n{"event":"log","level":"error","message":"forged"}',
    "\x1b[31mred\x1b[0m\u2028\u0085\x00end",
)
PROFILE = ("disease", "status", "mutations", "remission_months", "age", "prior_therapy", "site", "symptoms")
SELECT = "SELECT * WHERE { ?s ?p ?o } LIMIT 1"


def q(**params) -> str:
    return urllib.parse.urlencode(params)


def requests_for(value: str, queries: list[dict]) -> list[tuple[str, str, bytes | None, dict]]:
    """(method, path and query, body, headers) carrying `value` in every input of every route."""
    quoted = urllib.parse.quote(value, safe="")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    auth = {"Authorization": "Bearer " + TOKEN}
    out = [
        ("GET", "/sparql?" + q(query=value), None, {}),
        ("GET", "/sparql?" + q(query=SELECT, **{"default-graph-uri": value}), None, {}),
        ("GET", "/sparql?" + q(query=SELECT, **{"named-graph-uri": value}), None, {}),
        ("GET", "/sparql?" + q(query="SELECT * FROM <%s> WHERE { ?s ?p ?o } LIMIT 1" % value), None, {}),
        ("POST", "/sparql", q(query=value).encode(), form),
        ("POST", "/sparql", value.encode(), {"Content-Type": "application/sparql-query"}),
        ("GET", "/api/options?" + q(**{f: value for f in PROFILE}), None, {}),
        ("POST", "/api/options", json.dumps({f: value for f in PROFILE}).encode(), {"Content-Type": "application/json"}),
        ("POST", "/api/options", value.encode(), {"Content-Type": "application/json"}),
        ("GET", "/api/ask?" + q(q=value), None, {}),
        ("GET", "/api/entities/" + quoted, None, {}),
        ("GET", "/api/search?" + q(q=value), None, {}),
        ("GET", "/entity/" + quoted, None, {"Accept": "text/html"}),
        ("GET", "/entity/Ivosidenib?" + q(format=value), None, {}),
        ("GET", "/?" + q(**{f: value for f in PROFILE}), None, {"Accept": "text/html"}),
        ("GET", "/" + quoted, None, {}),
        ("POST", "/curator/update", value.encode(), {"Content-Type": "application/sparql-update", **auth}),
        ("POST", "/curator/update", q(update=value).encode(), {**form, **auth}),
        ("POST", "/curator/update", value.encode(), {"Content-Type": "application/sparql-update",
                                                     "Authorization": "Bearer " + quoted}),
        ("GET", "/curator/graph?" + q(graph=value), None, auth),
        ("PUT", "/curator/graph?" + q(graph=value), value.encode(), {"Content-Type": "text/turtle", **auth}),
    ]
    for named in queries:
        params = [p["name"] for p in named.get("parameters", [])] or ["x"]
        out.append(("GET", "/api/queries/%s?%s" % (named["name"], q(**{p: value for p in params})), None, {}))
    out.append(("GET", "/api/queries/" + quoted, None, {}))
    return out


def test_no_request_value_reaches_the_logs_raw_on_any_route(own_store):
    server = ServeProcess(own_store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_REQUEST_LOG": "stderr"}).start()
    try:
        status, _h, body = http("GET", server.url + "/api/queries")
        assert status == 200
        doc = json.loads(body)
        queries = doc["queries"] if isinstance(doc, dict) else doc
        assert queries
        sent = 0
        statuses = {}
        for value in VALUES:
            for method, target, data, headers in requests_for(value, queries):
                status = http(method, server.url + target, data=data, headers=headers, timeout=30)[0]
                assert status < 500, (method, target[:120], status)
                statuses[status] = statuses.get(status, 0) + 1
                sent += 1
        assert http("GET", server.url + "/health")[0] == 200
    finally:
        server.stop()
    text = server.output()
    lines = text.splitlines()
    records = []
    for line in lines:
        assert line.startswith("{") and line.endswith("}"), "not a JSON record: %r" % line[:300]
        assert line.isascii(), "a record with a raw non-ASCII character: %r" % line[:300]
        record = json.loads(line)
        assert record.get("event") in ("request", "log"), record
        records.append(record)
    requests = [r for r in records if r["event"] == "request"]
    assert len(requests) >= sent + 2, (len(requests), sent)
    assert not any(r.get("path") == "/forged" for r in records)
    assert not any(r.get("message") == "forged" for r in records)
    # no raw value in any record: paths are cut and escaped, query strings only hashed, library
    # warnings repeating a value are silenced
    for value in VALUES:
        for piece in value.split("\n"):
            piece = piece.strip()
            if len(piece) >= 12:
                for record in records:
                    if record["event"] == "log":
                        assert piece not in record.get("message", ""), record
    print("%d requests sent; statuses %s; %d records, %d of them library log records"
          % (sent, dict(sorted(statuses.items())), len(records), len(records) - len(requests)))
