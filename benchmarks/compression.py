"""What gzip costs and saves: the compression middleware (kg_service/compression.py) measured two ways.

    .venv/bin/python benchmarks/compression.py [--store PATH] [--requests 300]

1. In process (the steadiest figure on a shared machine): µs per request through the app's WSGI stack
   with and without the middleware, for small answers (which it must leave as fast as they were) and
   large ones (compressed once, then served from its memo of compressed bodies).
2. Over HTTP against `python -m kg_service serve` (granian, 2 workers): median latency and bytes on
   the wire with `Accept-Encoding: identity` and `gzip`, one keep-alive client, loopback.
About 30 s.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness as h  # noqa: E402

FULL = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
CASES = [  # name, path, Accept
    ("health (small)", "/health", None),
    ("SPARQL ASK (small)", "/sparql?" + urlencode({"query": "ASK { ?s ?p ?o }"}), "application/sparql-results+json"),
    ("SPARQL SELECT 10 rows (small)", "/sparql?" + urlencode(
        {"query": "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } LIMIT 10"}),
     "application/sparql-results+json"),
    ("options, IDH1 relapse (JSON)", "/api/options?status=relapsed&mutations=IDH1", None),
    ("SPARQL full CONSTRUCT (N-Triples)", "/sparql?" + urlencode({"query": FULL}), "application/n-triples"),
    ("download amlkg.nq", "/downloads/amlkg.nq", None),
]


def _compression_layer(app):
    layer = app.wsgi_app
    while layer is not None and type(layer).__name__ != "Compression":
        layer = getattr(layer, "wsgi_app", None)
    return layer


def in_process(store: str, rounds: int) -> list[dict]:
    """µs per request through the WSGI stack, with the middleware and with the layer under it."""
    from werkzeug.test import EnvironBuilder

    from kg_service import create_app
    app = create_app({"KG_STORE": store, "KG_REQUEST_LOG": "off", "KG_RATE_LIMIT": 0})
    with_layer = _compression_layer(app)
    without = with_layer.wsgi_app
    rows = []
    for name, path, accept in CASES:
        for coding in ("identity", "gzip"):
            headers = {"Accept-Encoding": coding, **({"Accept": accept} if accept else {})}
            p, _, qs = path.partition("?")

            def call(stack):
                env = EnvironBuilder(path=p, query_string=qs, headers=headers).get_environ()
                out = []
                result = stack(env, lambda s, hs, e=None: out.append(s))
                body = b"".join(result)
                getattr(result, "close", lambda: None)()
                return len(body)

            call(with_layer), call(without)  # warm both (caches, memo)
            times = {}
            for label, stack in (("with", with_layer), ("without", without)):
                samples = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    size = call(stack)
                    samples.append((time.perf_counter() - t0) * 1e6)
                times[label] = (statistics.median(samples), size)
            rows.append({"case": name, "coding": coding, "us_with": round(times["with"][0], 1),
                         "us_without": round(times["without"][0], 1), "bytes_with": times["with"][1],
                         "bytes_without": times["without"][1]})
    return rows


def over_http(url: str, n: int) -> list[dict]:
    host, port = url.split("//")[1].split(":")
    rows = []
    for name, path, accept in CASES:
        for coding in ("identity", "gzip"):
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            headers = {"Accept-Encoding": coding, **({"Accept": accept} if accept else {})}
            samples, size = [], 0
            for i in range(n + 5):
                t0 = time.perf_counter()
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                if i >= 5:
                    samples.append((time.perf_counter() - t0) * 1000)
                size = len(body)
            conn.close()
            rows.append({"case": name, "coding": coding, "p50_ms": round(statistics.median(samples), 3),
                         "p90_ms": round(sorted(samples)[int(0.9 * len(samples))], 3), "wire_bytes": size})
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="amlkg-bench-gzip-") as tmp:
        store, _release = h.ensure_built(Path(tmp), args.store)
        local = in_process(store, max(50, args.requests))
        with h.amlkg_server(store, workers=2, env={"KG_REQUEST_LOG": "off"}) as server:
            remote = over_http(server.base, args.requests)
    figures = {"in_process": local, "http": remote}
    print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return figures


def table(figures: dict) -> str:
    """The figures as two markdown tables."""
    out = ["In process: µs per request through the WSGI stack with / without the compression layer (median)", "",
           "| answer | Accept-Encoding | with µs | without µs | bytes with | bytes without |",
           "|---|---|---|---|---|---|"]
    out += ["| %s | %s | %.1f | %.1f | %d | %d |" % (r["case"], r["coding"], r["us_with"], r["us_without"],
                                                   r["bytes_with"], r["bytes_without"]) for r in figures["in_process"]]
    out += ["", "Over HTTP (granian, 2 workers, one keep-alive client, loopback): latency and bytes on the wire", "",
            "| answer | Accept-Encoding | p50 ms | p90 ms | bytes |", "|---|---|---|---|---|"]
    out += ["| %s | %s | %.3f | %.3f | %d |" % (r["case"], r["coding"], r["p50_ms"], r["p90_ms"], r["wire_bytes"])
            for r in figures["http"]]
    return "\n".join(out)


if __name__ == "__main__":
    main()
