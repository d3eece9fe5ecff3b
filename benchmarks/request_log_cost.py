"""What the request log costs on the hot path: a cached SPARQL answer (answered before Flask), in process,
with the log off, to /dev/null, and to /dev/null behind the (loopback) rate limit. Speed is measured here,
not asserted in a test (target: a few µs a request).

    .venv/bin/python benchmarks/request_log_cost.py [--store var/store]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import harness as h  # noqa: E402
from kg_service import create_app  # noqa: E402


def per_request_us(app, env: dict, rounds: int = 5, n: int = 5000) -> float:
    """Best of `rounds` mean times of `n` cached requests, in µs."""
    wsgi = app.wsgi_app
    list(wsgi(dict(env), lambda *a: None))                     # fill the cache
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            wsgi(dict(env), lambda *a: None)
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default=None)
    args = p.parse_args(argv)
    tmp = None
    store = args.store or str(ROOT / "var" / "store")
    if not Path(store, "current").exists():
        tmp = tempfile.TemporaryDirectory()
        store = os.path.join(tmp.name, "store")
        h.build_store(store, os.path.join(tmp.name, "release"))
    env = EnvironBuilder(path="/sparql", query_string={"query": "ASK { ?s ?p ?o }"},
                         headers={"Accept": "application/sparql-results+json"},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()

    def app(**settings):
        return create_app({"TESTING": True, "KG_STORE": store, **settings})

    bare = per_request_us(app(KG_REQUEST_LOG="off", KG_RATE_LIMIT=0), env)
    logged = per_request_us(app(KG_REQUEST_LOG=os.devnull, KG_RATE_LIMIT=0), env)
    defaults = per_request_us(app(KG_REQUEST_LOG=os.devnull), env)
    print("cache hit: %.2f µs bare, %.2f µs logged (+%.2f), %.2f µs logged + rate limit (+%.2f)"
          % (bare, logged, logged - bare, defaults, defaults - bare))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
