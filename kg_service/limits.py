"""Denial-of-service limits: a bound on store queries running at once, body and URL size limits, and an
optional per-client rate limit. Every limit answers with problem+json and, where waiting helps, a
``Retry-After`` (a query cut at its deadline is 504 without one: waiting does not help it).

Where each one sits, so that cheap requests stay cheap:

- `QueryGate` is consulted by the store itself, around each query it evaluates (``Store.gate``): a
  cached answer, ``/health`` and static files never touch it, so they keep flowing while expensive
  queries queue. Evaluations run on helper threads at lowered CPU priority (``KG_QUERY_NICE``), so a
  long query takes only the CPU that request threads leave idle. A query cut at its deadline frees
  its slot; its evaluation (which cannot be interrupted) runs on at low priority until the worker is
  replaced, which a cut query triggers.
- The size limits run in a ``before_request`` hook (and Flask's ``MAX_CONTENT_LENGTH`` for bodies
  without a length); ``/sparql`` applies its own, larger query limits on top.
- `RateLimit` is WSGI middleware outside everything (cached answers included), installed only when
  ``KG_RATE_LIMIT`` > 0; loopback clients pass with one string test unless ``KG_RATE_LIMIT_LOOPBACK``.

Settings (``kg_service/config.py``): KG_MAX_CONCURRENT_QUERIES, KG_QUERY_QUEUE_SECONDS, KG_RETRY_AFTER,
KG_MAX_BODY_BYTES, KG_MAX_URL_BYTES, KG_RATE_LIMIT, KG_RATE_LIMIT_BURST, KG_RATE_LIMIT_LOOPBACK.
"""
from __future__ import annotations

import contextlib
import threading
import time

from .store.base import Overloaded

_EXT = "amlkg_limits"
#: stack of the threads created after start-up, the store's query evaluation threads and the curator's
#: writer among them: pyoxigraph's recursion (and so the size of a query that crashes it) grows with the
#: stack: a `!` chain crashes at ~9,500 on glibc's default 8 MiB thread, at ~75,000 on 64 MiB
#: (benchmarks/crash_sizes.py). Only touched pages cost memory.
EVALUATION_STACK_BYTES = 64 * 1024 * 1024
#: routes never rate limited (monitoring must see a busy server)
UNLIMITED_PATHS = frozenset(("/health",))


class QueryGate:
    """At most `slots` store queries evaluating at once; a caller waits up to `wait` seconds for one.

    >>> gate = QueryGate(1, wait=0.01, retry_after=3)
    >>> gate.acquire(); gate.running
    1
    >>> gate.acquire()
    Traceback (most recent call last):
    ...
    kg_service.store.base.Overloaded: the server is busy: 1 queries are running in this worker (the most at once); try again in 3 s
    >>> gate.release(); gate.running, gate.refused
    (0, 1)
    """

    def __init__(self, slots: int, wait: float = 2.0, retry_after: int = 2, nice: int = 0):
        self.slots = max(1, int(slots))
        self.wait = max(0.0, float(wait))
        self.retry_after = max(1, int(retry_after))
        self.nice = max(0, min(19, int(nice)))
        self._sem = threading.BoundedSemaphore(self.slots)
        self._count_lock = threading.Lock()
        self.running = 0
        self.refused = 0

    def acquire(self) -> None:
        """Take a slot, waiting at most `wait` seconds; raise `Overloaded` when none came free."""
        if not self._sem.acquire(blocking=False):
            if not self.wait or not self._sem.acquire(timeout=self.wait):
                with self._count_lock:
                    self.refused += 1
                raise Overloaded("the server is busy: %d queries are running in this worker (the most at "
                                 "once); try again in %d s" % (self.slots, self.retry_after),
                                 retry_after=self.retry_after)
        with self._count_lock:
            self.running += 1

    def release(self, _future=None) -> None:
        """Give the slot back (also usable as a future's done callback)."""
        with self._count_lock:
            self.running -= 1
        self._sem.release()

    def stats(self) -> dict:
        return {"slots": self.slots, "running": self.running, "refused": self.refused}

    @contextlib.contextmanager
    def held(self):
        """A slot for the duration of a `with` block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def submit(self, pool, fn):
        """Take a slot (or raise Overloaded) and run `fn` on `pool` at lowered priority; the slot is
        given back when the evaluation ends, or at `abandon`, whichever comes first."""
        self.acquire()
        once = threading.Lock()

        def give_back(_future=None):
            if once.acquire(blocking=False):
                self.release()
        try:
            future = pool.submit(self.background(fn))
        except BaseException:
            give_back()
            raise
        future.amlkg_give_back = give_back
        future.add_done_callback(give_back)
        return future

    def abandon(self, future) -> None:
        """The caller stopped waiting for `future` (cut at its deadline): free its slot now. Its
        evaluation cannot be interrupted and runs on, at lowered priority, until the worker that
        holds it is replaced (see kg_service.served_store.recycle_worker); counting it would leave the
        worker's remaining requests queueing behind a query nobody waits for."""
        give_back = getattr(future, "amlkg_give_back", None)
        if give_back is not None:
            give_back()

    def background(self, fn):
        """`fn`, run at CPU priority lowered by `nice` on the helper thread that evaluates it: a
        long or runaway query then takes only the CPU that request threads leave idle."""
        if not self.nice:
            return fn
        nice = self.nice

        def run():
            if getattr(_thread_nice, "value", 0) < nice:
                _lower_thread_priority(nice)
            return fn()
        return run


_thread_nice = threading.local()


def _lower_thread_priority(nice: int) -> None:
    """Raise this thread's niceness to `nice` (Linux: niceness is per thread); elsewhere nothing."""
    import os
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        _thread_nice.value = nice
    except (AttributeError, OSError):
        _thread_nice.value = 99  # not supported here: do not try again


# -- rate limit -----------------------------------------------------------------------------------
def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped form.

    >>> [is_loopback(a) for a in ("127.0.0.1", "::1", "::ffff:127.0.0.2", "10.0.0.1", None)]
    [True, True, True, False, False]
    """
    if not address:
        return False
    return address.startswith("127.") or address == "::1" or address.startswith("::ffff:127.")


class TokenBuckets:
    """One token bucket per client: `rate` tokens a second, at most `burst` saved up.

    >>> b = TokenBuckets(rate=1, burst=2)
    >>> [b.take("a", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> b.take("a", now=1.0), b.take("b", now=1.0)
    (0.0, 0.0)
    """

    MAX_CLIENTS = 10_000

    def __init__(self, rate: float, burst: int):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Take one token; 0.0 when granted, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self.MAX_CLIENTS:
                    self._forget_full(now)
                bucket = self._buckets[client] = [self.burst, now]
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return 0.0
            bucket[0] = tokens
            return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop clients whose buckets have refilled (they lose nothing); all of them if none has."""
        full = [c for c, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.rate >= self.burst]
        for c in full or list(self._buckets):
            del self._buckets[c]


class RateLimit:
    """WSGI middleware: 429 problem+json with Retry-After once a client spends its tokens."""

    def __init__(self, wsgi_app, rate: float, burst: int, loopback: bool = False):
        self.wsgi_app = wsgi_app
        self.buckets = TokenBuckets(rate, burst)
        self.loopback = loopback

    def __call__(self, environ, start_response):
        client = environ.get("REMOTE_ADDR") or "-"
        if (self.loopback or not is_loopback(client)) and environ.get("PATH_INFO") not in UNLIMITED_PATHS:
            wait = self.buckets.take(client)
            if wait:
                return _problem_wsgi(start_response, 429, "Too Many Requests",
                                     "This client sent more than %g requests a second; slow down and retry "
                                     "after the Retry-After delay." % self.buckets.rate,
                                     kind="rate-limited", retry_after=max(1, int(wait + 0.999)))
        return self.wsgi_app(environ, start_response)


def _problem_wsgi(start_response, status: int, title: str, detail: str, *, kind: str, retry_after: int):
    """A problem+json answer written straight to WSGI (outside Flask)."""
    import orjson

    from .errors import PROBLEM_TYPE_BASE
    body = orjson.dumps({"type": PROBLEM_TYPE_BASE + kind, "title": title, "status": status, "detail": detail})
    start_response("%d %s" % (status, title), [
        ("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
        ("Retry-After", str(retry_after)), ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
        ("Access-Control-Expose-Headers", "Retry-After")])
    return [body]


# -- size limits ----------------------------------------------------------------------------------
def _drain(stream, length: int, cap: int = 16 * 1024 * 1024) -> None:
    """Read and drop a refused body (up to `cap` bytes) so the client reliably receives the 413:
    closing a socket with unread data makes the kernel reset the connection."""
    left = min(length, cap)
    while left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            break
        left -= len(chunk)


def init_app(app) -> None:
    """Body and URL limits for every route; the query gate the served store consults."""
    from flask import request

    from .errors import ProblemError

    _large_thread_stacks()
    max_body = int(app.config["KG_MAX_BODY_BYTES"])
    from .front import effective_url_limit
    max_url = effective_url_limit(app.config["KG_MAX_URL_BYTES"])
    app.config["MAX_CONTENT_LENGTH"] = max_body  # bodies without a Content-Length, read as streams
    gate = QueryGate(int(app.config["KG_MAX_CONCURRENT_QUERIES"]), float(app.config["KG_QUERY_QUEUE_SECONDS"]),
                     int(app.config["KG_RETRY_AFTER"]), int(app.config["KG_QUERY_NICE"]))
    app.extensions[_EXT] = gate
    served = app.extensions.get("amlkg_store")
    if served is not None:
        served.gate = gate
        opened = getattr(served, "_store", None)
        if opened is not None:  # opened while the app was assembled: gate it too
            opened.gate = gate

    @app.teardown_request
    def _drain_unread(_exc):
        """Read what is left of a body the route did not read (up to KG_MAX_BODY_BYTES): a keep-alive
        connection with unread bytes is closed by the server, and the client's next request on it
        fails (a 413 or 415 answered from the headers alone is the common case)."""
        length = request.content_length
        if length and length <= max_body:
            try:
                request.stream.exhaust()
            except Exception:  # noqa: BLE001 - a client gone away; nothing to keep alive
                pass

    @app.before_request
    def _sizes():
        environ = request.environ
        length = request.content_length
        if length is not None and length > max_body:
            _drain(environ["wsgi.input"], length)
            raise ProblemError(413, "Payload Too Large", "The request body is %d bytes; this service accepts "
                               "at most %d." % (length, max_body), kind="payload-too-large",
                               max_body_bytes=max_body)
        qs = environ.get("QUERY_STRING")
        if qs and len(qs) > max_url and not (request.path or "").startswith("/sparql"):
            raise ProblemError(414, "URI Too Long", "The URL's query string is %d bytes; at most %d are "
                               "accepted here." % (len(qs), max_url), kind="uri-too-long",
                               max_url_bytes=max_url)


def _large_thread_stacks() -> None:
    """Threads started from now on (the first query starts the evaluation pool's) get
    EVALUATION_STACK_BYTES of stack: a query that slips past the guard's complexity limit then still
    has >20x the recursion room it needs (defence in depth, not the guard)."""
    try:
        if threading.stack_size() < EVALUATION_STACK_BYTES:
            threading.stack_size(EVALUATION_STACK_BYTES)
    except (ValueError, RuntimeError):  # a platform that cannot set it: the default stack stays
        pass


def wrap_rate_limit(app) -> None:
    """Install the per-client rate limit around the whole app when KG_RATE_LIMIT > 0."""
    from .config import flag
    rate = float(app.config["KG_RATE_LIMIT"] or 0)
    if rate > 0:
        app.wsgi_app = RateLimit(app.wsgi_app, rate, int(app.config["KG_RATE_LIMIT_BURST"]),
                                 flag(app.config["KG_RATE_LIMIT_LOOPBACK"]))


def get_gate(app=None) -> QueryGate:
    from flask import current_app
    return (app or current_app).extensions[_EXT]
