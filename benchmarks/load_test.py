"""Bounded load test: 16 concurrent clients, mixed JSON API and SPARQL, 60 s, on loopback, while a 17th
client keeps a pathological query running. Passes when no request fails and cheap requests' p99 stays
under 100 ms.

    .venv/bin/python benchmarks/load_test.py [--seconds 60] [--clients 16] [--store PATH] [--url URL]
                                             [--no-pathological] [--json FILE]

Starts `python -m kg_service serve` (the default server, workers and settings, request log on) over a
copy of the store (built into a temporary directory when --store is absent and var/store does not
exist), unless --url names a running server. Each client is its own process with one keep-alive
connection, sending requests back to back, each one drawn at random from:

    cheap     sparql-cached  a GET /sparql the server has answered before (the cache, before Flask)   40 %
              api-cached     GET /api/options for a profile answered before                           30 %
              health         GET /health                                                              10 %
              static         GET /sparql/static/query.css                                              5 %
    uncached  sparql-new     a GET /sparql never asked before (a new FILTER constant)                  5 %
              api-new        GET /api/options for a new profile (a new remission length)              10 %

(The clients are closed-loop, so they keep the server's two cores saturated whatever the mix; the
uncached share sets how much of that is query evaluation. With 35 % uncached, the cheap requests'
p99 is about 70 ms here even without the pathological query: they queue for CPU and the GIL behind
Python work of uncached requests.)

Every one must answer 200; anything else (a 503 from the query gate, a 5xx, a refused connection) is
a failure. A keep-alive connection the server closed while idle (a worker being replaced after the
pathological query was cut) is reopened and the request sent again, as HTTP clients do for idempotent
requests; those retries are counted and reported. The pathological client sends a four-way cross
product of the graph with itself, again and again; each is cut at KG_QUERY_TIMEOUT (504, expected)
and its worker replaced. Clients and server share the machine's cores, so latencies include the
clients' own cost.

Exit status 0 iff failures == 0 and the cheap requests' p99 < 100 ms; 1 when a request failed, 3 when
none failed but the p99 missed. The same run is a test (tests/security/test_load.py), which fails on
a failed request, never on the p99: a shared machine's timing is a benchmark's figure, not a test's.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

ROOT = h.ROOT
PATHOLOGICAL = ("SELECT (COUNT(*) AS ?n) WHERE { ?s1 ?p1 ?o1 . ?s2 ?p2 ?o2 . ?s3 ?p3 ?o3 . ?s4 ?p4 ?o4 "
                "FILTER(?s1 != ?o4 || ?p2 != ?p3) }")
CACHED_QUERIES = [
    "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?s LIMIT %d" % n
    for n in range(5, 25)]
CACHED_PROFILES = [{"status": s, "mutations": m} for s in ("relapsed", "refractory")
                   for m in ("IDH1", "IDH2", "FLT3", "FLT3,IDH1", "", "NPM1", "IDH1,IDH2", "TP53")]
MIX = [("sparql-cached", 40), ("api-cached", 30), ("health", 10), ("static", 5), ("sparql-new", 5), ("api-new", 10)]
CHEAP = {"sparql-cached", "api-cached", "health", "static"}
ACCEPT_JSON = {"Accept": "application/sparql-results+json"}
P99_LIMIT_MS = 100.0
#: exit status when no request failed but the cheap requests' p99 missed P99_LIMIT_MS (1: a request failed)
LATENCY_OVER = 3


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100.0 * (len(values) - 1))))]


# -- requests -------------------------------------------------------------------------------------
def request_for(kind: str, rng: random.Random, client: int, n: int) -> tuple[str, dict]:
    if kind == "sparql-cached":
        return "/sparql?" + urlencode({"query": rng.choice(CACHED_QUERIES)}), ACCEPT_JSON
    if kind == "api-cached":
        return "/api/options?" + urlencode(rng.choice(CACHED_PROFILES)), {}
    if kind == "health":
        return "/health", {}
    if kind == "static":
        return "/sparql/static/query.css", {}
    if kind == "sparql-new":
        q = ("SELECT ?s ?o WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?o "
             "FILTER(STRLEN(STR(?o)) != %d) } LIMIT 10" % (client * 10_000_000 + n))
        return "/sparql?" + urlencode({"query": q}), ACCEPT_JSON
    if kind == "api-new":
        months = "%d.%06d" % (rng.randrange(0, 60), client * 100_000 + n % 100_000)
        return "/api/options?" + urlencode({"status": "relapsed", "remission_months": months,
                                            "mutations": rng.choice(["IDH1", "FLT3", ""])}), {}
    raise ValueError(kind)


class Connection:
    """One keep-alive connection; reopened (and the request sent again) when the server closed it."""

    STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

    def __init__(self, host: str, port: int, timeout: float = 60.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.retries = 0

    def get(self, path: str, headers: dict) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers=headers)
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status, body
            except self.STALE:
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                self.retries += 1
        raise AssertionError("unreachable")


def client_loop(host: str, port: int, client: int, deadline: float, out: str) -> None:
    """Send mixed requests until `deadline`; write (kind, status, ms) rows and counters to `out`."""
    rng = random.Random(client)
    kinds, weights = zip(*MIX)
    conn = Connection(host, port)
    rows, errors = [], []
    n = 0
    while time.time() < deadline:
        kind = rng.choices(kinds, weights)[0]
        path, headers = request_for(kind, rng, client, n)
        n += 1
        t0 = time.perf_counter()
        try:
            status, _body = conn.get(path, headers)
        except OSError as e:
            status = 0
            errors.append("%s %s: %s" % (kind, path[:80], e))
        rows.append((kind, status, (time.perf_counter() - t0) * 1000.0, round(time.time(), 3)))
    with open(out, "w") as f:
        json.dump({"rows": rows, "errors": errors[:20], "retries": conn.retries}, f)


def pathological_loop(host: str, port: int, deadline: float, out: str) -> None:
    conn = Connection(host, port, timeout=120)
    statuses = []
    path = "/sparql?" + urlencode({"query": PATHOLOGICAL})
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            status, _ = conn.get(path, ACCEPT_JSON)
        except OSError:
            status = 0
        statuses.append((status, (time.perf_counter() - t0) * 1000.0, round(time.time(), 3)))
    with open(out, "w") as f:
        json.dump({"statuses": statuses}, f)


# -- the server -----------------------------------------------------------------------------------
def prepare_store(store: str | None, workdir: Path) -> str:
    """A private copy of the store (built into `workdir` when there is none)."""
    source = store or str(ROOT / "var" / "store")
    target = workdir / "store"
    if os.path.lexists(Path(source) / "current"):
        shutil.copytree(source, target, symlinks=True)
    else:
        h.build_store(str(target), str(workdir / "release"))
    return str(target)


def warm(host: str, port: int) -> None:
    """Answer every cheap request in every worker (each worker has its own cache)."""
    conn = Connection(host, port)
    for _ in range(12):
        for q in CACHED_QUERIES:
            conn.get("/sparql?" + urlencode({"query": q}), ACCEPT_JSON)
        for p in CACHED_PROFILES:
            conn.get("/api/options?" + urlencode(p), {})
        conn.conn.close()
        conn.conn = None   # a new connection may land on another worker


# -- the run --------------------------------------------------------------------------------------
def run(seconds: float = 60, clients: int = 16, store: str | None = None, url: str | None = None,
        pathological: bool = True, env: dict | None = None) -> dict:
    """Run the load test and return its figures (see `summarise`)."""
    workdir = Path(tempfile.mkdtemp(prefix="amlkg-load-"))
    server = None
    try:
        if url:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or 80
        else:
            server = h.amlkg_server(prepare_store(store, workdir), env=env, log=workdir / "server.log", timeout=90)
            host, port = "127.0.0.1", server.port
        warm(host, port)
        ctx = mp.get_context("spawn")
        deadline = time.time() + seconds
        procs = []
        if pathological:
            procs.append(ctx.Process(target=pathological_loop, args=(host, port, deadline + 2,
                                                                      str(workdir / "pathological.json"))))
        for i in range(clients):
            procs.append(ctx.Process(target=client_loop, args=(host, port, i, deadline,
                                                               str(workdir / ("client-%d.json" % i)))))
        for p in procs:
            p.start()
        for p in procs:
            p.join(seconds + 180)
        results = [json.loads((workdir / ("client-%d.json" % i)).read_text()) for i in range(clients)]
        patho = json.loads((workdir / "pathological.json").read_text()) if pathological else {"statuses": []}
        figures = summarise(results, patho, seconds, clients)
        if os.environ.get("AMLKG_LOAD_RAW"):
            Path(os.environ["AMLKG_LOAD_RAW"]).write_text(json.dumps({"results": results, "patho": patho}))
        if server is not None:
            log = (workdir / "server.log").read_text(errors="replace")
            figures["server_log_lines"] = sum(1 for line in log.splitlines() if line.startswith('{"event":"request"'))
        return figures
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def summarise(results: list[dict], patho: dict, seconds: float, clients: int) -> dict:
    rows = [r for res in results for r in res["rows"]]
    failures = [r for r in rows if r[1] != 200]
    by_kind = {}
    for kind, _w in MIX:
        ms = [r[2] for r in rows if r[0] == kind]
        by_kind[kind] = {"requests": len(ms), "failures": sum(1 for r in rows if r[0] == kind and r[1] != 200),
                         "p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2),
                         "max_ms": round(max(ms), 2) if ms else None}
    cheap = [r[2] for r in rows if r[0] in CHEAP]
    uncached = [r[2] for r in rows if r[0] not in CHEAP]
    statuses = {}
    for r in failures:
        statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1
    patho_statuses = {}
    for status, _ms, _t in patho["statuses"]:
        patho_statuses[str(status)] = patho_statuses.get(str(status), 0) + 1
    return {
        "seconds": seconds, "clients": clients, "requests": len(rows), "failures": len(failures),
        "failure_statuses": statuses, "errors": [e for res in results for e in res["errors"]][:10],
        "requests_per_second": round(len(rows) / seconds, 1),
        "cheap": {"requests": len(cheap), "p50_ms": round(percentile(cheap, 50), 2),
                  "p99_ms": round(percentile(cheap, 99), 2), "max_ms": round(max(cheap), 2) if cheap else None},
        "uncached": {"requests": len(uncached), "p50_ms": round(percentile(uncached, 50), 2),
                     "p99_ms": round(percentile(uncached, 99), 2)},
        "by_kind": by_kind, "reconnects": sum(res["retries"] for res in results),
        "pathological": {"sent": len(patho["statuses"]), "statuses": patho_statuses},
    }


def report(f: dict) -> str:
    lines = ["%d clients, %g s: %d requests (%.0f/s), %d failed, %d reconnects after a worker was replaced"
             % (f["clients"], f["seconds"], f["requests"], f["requests_per_second"], f["failures"], f["reconnects"]),
             "cheap requests: p50 %.2f ms, p99 %.2f ms, max %.1f ms (limit: p99 < %g ms)"
             % (f["cheap"]["p50_ms"], f["cheap"]["p99_ms"], f["cheap"]["max_ms"], P99_LIMIT_MS),
             "uncached requests: p50 %.2f ms, p99 %.2f ms" % (f["uncached"]["p50_ms"], f["uncached"]["p99_ms"]),
             "pathological queries alongside: %d sent, answered %s" % (f["pathological"]["sent"],
                                                                      f["pathological"]["statuses"]),
             "%-14s %9s %8s %9s %9s %9s" % ("kind", "requests", "failed", "p50 ms", "p99 ms", "max ms")]
    for kind, k in f["by_kind"].items():
        lines.append("%-14s %9d %8d %9.2f %9.2f %9.1f" % (kind, k["requests"], k["failures"], k["p50_ms"],
                                                          k["p99_ms"], k["max_ms"] or 0))
    if f["failures"]:
        lines.append("failures by status: %s; first errors: %s" % (f["failure_statuses"], f["errors"][:3]))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--store")
    ap.add_argument("--url")
    ap.add_argument("--no-pathological", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--env", action="append", default=[], metavar="KG_NAME=VALUE",
                    help="a setting for the server it starts (repeatable)")
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.env)
    figures = run(args.seconds, args.clients, args.store, args.url, not args.no_pathological, env)
    print(report(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    if figures["failures"]:
        return 1
    return 0 if figures["cheap"]["p99_ms"] < P99_LIMIT_MS else LATENCY_OVER


if __name__ == "__main__":
    raise SystemExit(main())
