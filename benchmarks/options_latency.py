"""Latency of GET /api/options over HTTP: p50/p99 at 1 and 16 concurrent clients, cached vs uncached.

    .venv/bin/python benchmarks/options_latency.py [--seconds 4] [--store var/store] [--url http://…]

Starts `python -m kg_service serve` (the default server, workers and threads) on a free port, unless
--url names a running server. Each client is its own process with one keep-alive connection, sending
requests back to back for --seconds per scenario:

    cached       20 profiles the server has answered before (the answer cache and the finder's cache)
    uncached     every request a profile not seen before (a distinct remission length), so the finder
                 runs options.rq
    conditional  a cached profile with If-None-Match: the ETag check answers 304 without a body

Client and server share the machine's cores, so the figures include the clients' own cost.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

ROOT = h.ROOT
CACHED = [{"status": s, "mutations": m} for s in ("relapsed", "refractory")
          for m in ("IDH1", "IDH2", "FLT3", "FLT3,IDH1", "", "NPM1", "IDH1,IDH2", "FLT3,IDH2", "TP53", "IDH2,NPM1")]


def path_for(profile: dict) -> str:
    return "/api/options?" + urlencode(profile)


def client(host: str, port: int, scenario: str, client_id: int, seconds: float, etags: dict, start, out) -> None:
    """One client: requests back to back until the time is up; latencies (s) to `out`."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies, i, errors = [], 0, 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        headers = {}
        if scenario == "uncached":
            profile = {"status": "relapsed", "mutations": "IDH1",
                       "remission_months": "%.6f" % (13 + (client_id * 1_000_000 + i) * 1e-6)}
        else:
            profile = CACHED[(client_id + i) % len(CACHED)]
            if scenario == "conditional":
                headers["If-None-Match"] = etags[path_for(profile)]
        path = path_for(profile)
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        latencies.append(time.perf_counter() - t)
        if r.status not in (200, 304):
            errors += 1
        i += 1
    conn.close()
    out.put((latencies, errors))


def run(host: str, port: int, scenario: str, clients: int, seconds: float, etags: dict) -> dict:
    results, elapsed = h.run_clients(client, [(host, port, scenario, n, seconds, etags) for n in range(clients)],
                                     seconds)
    lat = [x for r, _ in results for x in r]
    p50, p99 = h.p50_p99_ms(lat)
    return {"scenario": scenario, "clients": clients, "requests": len(lat), "errors": sum(e for _, e in results),
            "p50_ms": p50, "p99_ms": p99, "mean_ms": 1000 * statistics.fmean(lat), "rps": len(lat) / elapsed}


def warm(host: str, port: int) -> dict:
    """Answer every cached profile a few times (each worker has its own caches); their ETags."""
    etags = {}
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for _ in range(8):
        for profile in CACHED:
            conn.request("GET", path_for(profile))
            r = conn.getresponse()
            r.read()
            etags[path_for(profile)] = r.getheader("ETag")
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=30)  # new connections reach other workers
    return etags


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="per scenario and client count")
    p.add_argument("--store", default=None)
    p.add_argument("--url", default=None, help="a running server instead of starting one")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = p.parse_args(argv)
    server, tmp = None, None
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname, parts.port or 80
    else:
        store = args.store
        if store is None:
            store = str(ROOT / "var" / "store")
            if not (ROOT / "var" / "store" / "current").exists():
                tmp = tempfile.TemporaryDirectory()
                store = os.path.join(tmp.name, "store")
                h.build_store(store, os.path.join(tmp.name, "release"))
        server = h.amlkg_server(store)
        host, port = "127.0.0.1", server.port
    try:
        etags = warm(host, port)
        figures = []
        print("%-12s %7s %9s %8s %8s %8s %8s" % ("scenario", "clients", "requests", "p50 ms", "p99 ms", "mean ms",
                                                  "req/s"))
        for scenario in ("cached", "uncached", "conditional"):
            for clients in (1, 16):
                f = run(host, port, scenario, clients, args.seconds, etags)
                figures.append(f)
                print("%-12s %7d %9d %8.2f %8.2f %8.2f %8.0f%s" % (
                    scenario, clients, f["requests"], f["p50_ms"], f["p99_ms"], f["mean_ms"], f["rps"],
                    "  (%d errors)" % f["errors"] if f["errors"] else ""))
        print("machine: %d cores; target: cached p99 < 20 ms at 16 clients" % (os.cpu_count() or 0))
        if args.json:
            print(json.dumps(figures, indent=2))
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
