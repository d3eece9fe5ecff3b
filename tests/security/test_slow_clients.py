"""Slow clients (kg_service/front.py): a request body that stalls is answered 408 after
KG_REQUEST_READ_TIMEOUT; while it stalls it holds no request thread and no query slot, so with 32
stalled uploads held, /health and queries still answer at once."""
from __future__ import annotations

import json
import socket
import time
import urllib.parse

from kg_service.config import DEFAULTS

from .support import ServeProcess, http

STALLED = 32
READ_TIMEOUT = 3.0
#: the issue's bound for /health and a simple query while the uploads stall
ANSWER_BOUND = 1.0


def stalled_upload(port: int, path: str = "/sparql") -> socket.socket:
    """A POST announcing 1,000 bytes that sends 7, then waits."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\n"
              b"Content-Length: 1000\r\n\r\nSELECT " % path.encode())
    return s


def read_answer(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1].rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def timed_get(url: str, headers: dict | None = None) -> tuple[int, float, bytes]:
    t0 = time.monotonic()
    status, _h, body = http("GET", url, headers=headers, timeout=10)
    return status, time.monotonic() - t0, body


def test_the_default_read_timeout_is_at_most_ten_seconds():
    assert 0 < float(DEFAULTS["KG_REQUEST_READ_TIMEOUT"]) <= 10


def test_stalled_uploads_hold_no_thread_and_no_query_slot_and_are_dropped_with_408(own_store):
    # one query slot per worker and no queueing: a stalled upload holding a slot would make the
    # uncached query below a 503
    env = {"KG_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT), "KG_MAX_CONCURRENT_QUERIES": "1",
           "KG_QUERY_QUEUE_SECONDS": "0", "KG_CACHE_ENTRIES": "0"}
    server = ServeProcess(own_store, env=env, workers=2).start()
    try:
        held = [stalled_upload(server.port, path) for path in ("/sparql", "/api/options") * (STALLED // 2)]
        opened = time.monotonic()
        time.sleep(0.3)  # every upload is in the server's hands
        answers = []
        for i in range(6):
            answers.append(("health",) + timed_get(server.url + "/health"))
            query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(STRLEN(STR(?o)) > %d) }" % (1000 + i)
            answers.append(("query",) + timed_get(server.url + "/sparql?" + urllib.parse.urlencode({"query": query}),
                                                  {"Accept": "application/sparql-results+json"}))
        answers.append(("api",) + timed_get(server.url + "/api/options?status=relapsed"))
        print("while %d uploads stall: %s" % (STALLED, ", ".join("%s %d %.3f s" % a[:3] for a in answers)))
        for kind, status, seconds, body in answers:
            assert status == 200, (kind, status, body[:300])
            assert kind == "api" or seconds < ANSWER_BOUND, (kind, seconds)
        assert time.monotonic() - opened < READ_TIMEOUT, "the checks ran after the uploads were dropped"
        # each stalled upload is dropped after the read timeout with a 408 problem+json
        for s in held:
            raw = read_answer(s)
            waited = time.monotonic() - opened
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), raw[:200]
            assert b"application/problem+json" in head.lower() and b"nosniff" in head.lower()
            problem = json.loads(body)
            assert problem["status"] == 408 and problem["type"].endswith("request-timeout")
            assert problem["read_timeout_seconds"] == READ_TIMEOUT
            s.close()
        assert READ_TIMEOUT - 0.5 < waited < READ_TIMEOUT + 5
        # the refusals are logged as requests (status 408), like any other answer
        logged = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        assert sum(1 for r in logged if r.get("status") == 408) == STALLED
    finally:
        server.stop()


def test_a_slow_but_steady_upload_within_the_timeout_is_served(own_store):
    server = ServeProcess(own_store, env={"KG_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)}, workers=2).start()
    try:
        query = b"ASK { ?s ?p ?o }"
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                  b"Accept: application/sparql-results+json\r\nContent-Length: %d\r\n\r\n" % len(query))
        for i in range(0, len(query), 4):
            s.sendall(query[i:i + 4])
            time.sleep(0.3)
        raw = read_answer(s)
        s.close()
        assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
        assert json.loads(raw.partition(b"\r\n\r\n")[2])["boolean"] is True
    finally:
        server.stop()


def test_a_stalled_request_head_is_closed_after_the_read_timeout(own_store):
    server = ServeProcess(own_store, env={"KG_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)}, workers=2).start()
    try:
        heads = []
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            heads.append(s)
        t0 = time.monotonic()
        status, seconds, _body = timed_get(server.url + "/health")
        assert status == 200 and seconds < ANSWER_BOUND
        for s in heads:
            assert s.recv(100) == b""  # the server closed it
            s.close()
        assert READ_TIMEOUT - 0.5 < time.monotonic() - t0 < READ_TIMEOUT + 5
    finally:
        server.stop()
