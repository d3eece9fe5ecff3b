"""A cached SPARQL answer found without waiting is sent from the front's event loop (no hand-over to a
request thread and back); everything else still runs on a request thread, through the same WSGI app:
the same bytes, headers, rate limit and log either way."""
from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlencode

import pytest

from kg_service.front import create_front
from kg_service.sparql.protocol import CachedAnswers
from tests.test_worker_warm_up import start_up

QUERY = "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?s LIMIT 5"
SRJ = "application/sparql-results+json"


class Recorded:
    """The front's WSGI app, noting the thread each request ran on."""

    def __init__(self, app):
        self.app, self.threads = app, []

    def __call__(self, environ, start_response):
        self.threads.append(threading.current_thread())
        return self.app(environ, start_response)


def call(front, method: str, query: str, accept: str = SRJ, body: bytes = b"", client: str = "127.0.0.1"):
    """One HTTP request through the front's ASGI interface, as granian sends it; (status, headers, body,
    whether the app ran on the event loop's thread)."""
    target = "query=" + QUERY.replace(" ", "%20") if method == "GET" else ""
    headers = [(b"accept", accept.encode()), (b"host", b"127.0.0.1")]
    if body:
        headers += [(b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": "/sparql", "raw_path": b"/sparql",
             "query_string": (target if query is None else query).encode(), "headers": headers,
             "client": (client, 50000), "server": ("127.0.0.1", 8080), "http_version": "1.1", "scheme": "http"}
    sent = []

    async def run():
        loop_thread = threading.current_thread()
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
        before = len(front.wsgi_app.threads)
        await front(scope, receive, send)
        return front.wsgi_app.threads[before:] == [loop_thread]
    on_loop = asyncio.run(run())
    start, payload = sent
    return start["status"], dict(start["headers"]), payload["body"], on_loop


@pytest.fixture()
def front(store_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", store_path)
    monkeypatch.setenv("KG_REFRESH_INTERVAL", "3600")
    made = create_front()
    start_up(made)
    made.wsgi_app = Recorded(made.wsgi_app)
    return made


def test_a_repeated_query_is_answered_on_the_event_loop_with_the_same_answer(front):
    status, headers, first, on_loop = call(front, "GET", None)
    assert (status, headers[b"x-amlkg-cache"], on_loop) == (200, b"miss", False)
    status, again, second, on_loop = call(front, "GET", None)
    assert (status, again[b"x-amlkg-cache"], on_loop) == (200, b"hit", True)
    assert second == first and b"bindings" in second
    for name in (b"content-type", b"etag", b"x-content-type-options", b"access-control-allow-origin"):
        assert again.get(name) == headers.get(name), name


def test_what_is_not_at_hand_goes_to_a_request_thread(front):
    call(front, "GET", None)
    # another Accept is another answer, not yet cached
    assert call(front, "GET", None, accept="application/sparql-results+xml")[3] is False
    # a POST has a body: never on the loop, even for a cached query
    assert call(front, "POST", "", body=urlencode({"query": QUERY}).encode())[3] is False
    # a refresh is due: finding the version may open a new one, which may wait; still a cache hit
    served = front.wsgi_app.app.extensions["amlkg_store"]
    served._checked = time.monotonic() - 2 * served.refresh_interval
    status, headers, _, on_loop = call(front, "GET", None)
    assert (status, headers[b"x-amlkg-cache"], on_loop) == (200, b"hit", False)
    assert call(front, "GET", None)[3] is True  # checked again just now: at hand


def test_a_large_cached_answer_is_not_sent_from_the_loop(front, monkeypatch):
    call(front, "GET", None)
    monkeypatch.setattr(CachedAnswers, "AT_HAND_MAX_BYTES", 10)
    status, headers, _, on_loop = call(front, "GET", None)
    assert (status, headers[b"x-amlkg-cache"], on_loop) == (200, b"hit", False)


def test_answers_from_the_loop_still_count_against_the_rate_limit(store_path, monkeypatch):
    monkeypatch.setenv("KG_STORE", store_path)
    monkeypatch.setenv("KG_RATE_LIMIT", "0.001")
    monkeypatch.setenv("KG_RATE_LIMIT_BURST", "3")
    made = create_front()
    start_up(made)
    made.wsgi_app = Recorded(made.wsgi_app)
    seen = [call(made, "GET", None, client="192.0.2.7")[::3] for _ in range(4)]
    assert seen == [(200, False), (200, True), (200, True), (429, True)]


def test_the_version_is_at_hand_only_once_known_and_while_no_refresh_is_due(store_path):
    from kg_service.served_store import ServedStore
    served = ServedStore(store_path, timeout=5.0, refresh_interval=3600)
    assert served.version_at_hand() is None          # nothing opened yet
    store = served.get()
    store.graph_version()
    assert served.version_at_hand() == store.graph_version() != ""
    served.refresh_interval = 0.0
    time.sleep(0.01)
    assert served.version_at_hand() is None          # a refresh is due: get() must look first


def test_the_remote_store_knows_its_version_only_within_its_ttl(remote_store_url):
    from kg_service.store import open_store
    store = open_store(remote_store_url, read_only=True, timeout=10.0)
    assert store.known_version() is None             # not read yet: it takes a request
    version = store.graph_version()
    assert version and store.known_version() == version
    store.refresh()                                  # read again on the next call
    assert store.known_version() is None


def test_a_fault_while_looking_for_the_answer_sends_the_request_to_a_thread(front):
    call(front, "GET", None)

    def broken(_environ):
        raise RuntimeError("the cache could not be read")
    front.at_hand = broken
    status, headers, body, on_loop = call(front, "GET", None)
    assert (status, headers[b"x-amlkg-cache"], on_loop) == (200, b"hit", False) and b"bindings" in body
