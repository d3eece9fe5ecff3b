"""SPARQL over HTTP, side by side: amlkg vs `oxigraph serve-read-only` vs rdflib-endpoint.

    .venv/bin/python benchmarks/sparql_throughput.py [--seconds 3] [--rounds 1] [--clients 1,8]
        [--datasets amlkg,synthetic-2k] [--servers amlkg,amlkg-disk,amlkg-gunicorn,oxigraph,rdflib-endpoint]
        (opt-in servers: wsgi-floor-static,wsgi-floor-query,asgi-floor-static,asgi-floor-query)
        [--store PATH] [--json FILE]

Same data, same queries, same load generator (`wrk` when installed, else a Python client of the
same shape), in one run, every server on a free loopback port:

- data: the built graph (`python -m kg_service build`, about 3,000 triples in 5 named graphs), and
  a synthetic 2,000-triple graph (200 items x 10 statements; the size DESIGN.md measured at);
- queries: a simple SELECT (labels, LIMIT 10) and a FILTER query (a string filter over every
  label, or a numeric range over every item);
- modes: **uncached** - each request's query text differs (a counter in a trailing comment), so
  amlkg's answer cache cannot answer and every server evaluates every request; **repeated** - the
  same text every time: amlkg answers from its cache keyed on the graph version, the others have no
  cache and evaluate it again;
- servers: amlkg as `python -m kg_service serve` ships (granian, workers = cores; a graph this small is
  served from a copy in memory per worker); the same with the store kept on disk
  (``KG_STORE_MEMORY_QUADS=0``, what a graph above the limit gets); the same under
  gunicorn (``KG_WSGI_SERVER=gunicorn``, for the choice of server); Oxigraph's own Rust server over
  the same RocksDB store (``serve-read-only``); rdflib-endpoint (uvicorn) over the same triples;
  opt-in, the floors of Python under granian (`floor_app.py`, same granian settings as `serve`):
  ``wsgi-floor-static`` answers amlkg's cached answer (same bytes and headers, recorded from amlkg
  before timing) as a fixed body, so it runs in the repeated mode only; ``wsgi-floor-query``
  evaluates each query with pyoxigraph on the same store and serialises SPARQL JSON, nothing else;
  ``asgi-floor-static`` and ``asgi-floor-query`` are the same as bare ASGI apps (the interface amlkg's
  front uses, on the same event loop), answering on the loop itself.

Each (query, clients, mode) runs every server back to back, so they share the machine's state;
``--rounds N`` repeats the whole sweep and reports medians. Before timing, every server's answer
to each query is checked to have the same number of rows. Reported per run: requests/s, p50/p99
latency, errors, and the server's CPU time per request (all its processes: the most stable
figure on a shared machine). Ratios: amlkg (and the floors) / Oxigraph and / rdflib-endpoint.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor_app  # noqa: E402
import harness as h  # noqa: E402

PREFIXES = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX ex: <https://example.org/bench/> "
QUERIES = {
    "amlkg": {
        "simple": PREFIXES + "SELECT ?s ?label WHERE { ?s rdfs:label ?label } LIMIT 10",
        "filter": PREFIXES + 'SELECT ?s ?label WHERE { ?s rdfs:label ?label FILTER(CONTAINS(LCASE(STR(?label)), "inhib")) }',
    },
    "synthetic-2k": {
        "simple": PREFIXES + "SELECT ?s ?label WHERE { ?s rdfs:label ?label } LIMIT 10",
        "filter": PREFIXES + "SELECT ?s ?v WHERE { ?s ex:value ?v FILTER(?v >= 400 && ?v < 600) }",
    },
}
SYNTHETIC_GRAPH = "https://w3id.org/amlkg/graph/bench-synthetic-2k"
ALL_SERVERS = ("amlkg", "amlkg-disk", "amlkg-gunicorn", "oxigraph", "rdflib-endpoint")
#: opt-in: bare WSGI apps under granian (benchmarks/floor_app.py), what Python itself costs
FLOOR_SERVERS = ("wsgi-floor-static", "wsgi-floor-query", "asgi-floor-static", "asgi-floor-query")
KNOWN_SERVERS = ALL_SERVERS + FLOOR_SERVERS
FLOOR_APP = Path(__file__).resolve().parent / "floor_app.py"
MODES = ("uncached", "repeated")
#: (server, mode) not run: a fixed body does not answer a new query
SKIPPED = {("wsgi-floor-static", "uncached"), ("asgi-floor-static", "uncached")}


def synthetic_2k() -> bytes:
    """200 items x 10 statements = 2,000 triples: type, label, value, category, two links, four notes."""
    ex, rdfs = "https://example.org/bench/", "http://www.w3.org/2000/01/rdf-schema#"
    integer = "http://www.w3.org/2001/XMLSchema#integer"
    lines = []
    for i in range(200):
        s = "<%sitem%d>" % (ex, i)
        lines += [
            "%s <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <%sItem> ." % (s, ex),
            '%s <%slabel> "item %d" .' % (s, rdfs, i),
            '%s <%svalue> "%d"^^<%s> .' % (s, ex, (i * 37) % 1000, integer),
            "%s <%scategory> <%scategory%d> ." % (s, ex, ex, i % 10),
            "%s <%srelated> <%sitem%d> ." % (s, ex, ex, (i * 13 + 1) % 200),
            "%s <%snext> <%sitem%d> ." % (s, ex, ex, (i + 1) % 200),
        ]
        lines += ['%s <%snote> "note %d of item %d" .' % (s, ex, n, i) for n in range(4)]
    return ("\n".join(lines) + "\n").encode()


def prepare(dataset: str, workdir: Path, store: str | None) -> tuple[str, Path]:
    """(amlkg store location, N-Quads file with the same quads) for a dataset."""
    if dataset == "amlkg":
        location, release = h.ensure_built(workdir / "amlkg", store)
        return location, release / "amlkg.nq"
    graphs = {SYNTHETIC_GRAPH: synthetic_2k()}
    location = h.publish_graphs(workdir / "synthetic" / "store", graphs, "bench-synthetic-2k")
    nq = workdir / "synthetic" / "data.nq"
    nq.write_bytes(b"".join(line.rstrip()[:-1] + b"<%s> .\n" % SYNTHETIC_GRAPH.encode()
                            for line in graphs[SYNTHETIC_GRAPH].splitlines()))
    return location, nq


def _has_default_graph(version_dir: str) -> bool:
    """Whether a published version also holds the union of its graphs in the default graph."""
    import pyoxigraph as ox
    store = ox.Store.read_only(version_dir)
    return next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None) is not None


def _launch(name: str, port: int, location: str, version_dir: str, nq: Path, workdir: Path, workers: int | None,
            answers: Path | None) -> dict | None:
    """How to start server `name` on `port`: h.Server's arguments, and `path`, where queries go
    (None: the server is not installed)."""
    srj = {"ready_accept": h.SRJ}
    if name in ("amlkg", "amlkg-gunicorn", "amlkg-disk"):
        env = {"KG_WSGI_SERVER": "gunicorn" if name == "amlkg-gunicorn" else "granian"}
        if name == "amlkg-disk":  # no copy in memory: every query through RocksDB's read path
            env["KG_STORE_MEMORY_QUADS"] = "0"
        return {"cmd": h.amlkg_command(location, port, workers), "ready_path": "/health", "env": env,
                "path": "/sparql?query="}
    same_workers = ["--workers", str(workers)] if workers else []  # the floors run as amlkg does
    same_workers += ["--interface", name.split("-")[0]] if name.endswith(("-floor-static", "-floor-query")) else []
    if name.endswith("-floor-static"):
        cmd = [h.PYTHON, str(FLOOR_APP), "static", "--answers", str(answers), "--port", str(port)] + same_workers
        return {"cmd": cmd, "ready_path": "/health", "path": "/sparql?query="}
    union = not _has_default_graph(version_dir)  # then query the union of the graphs, as amlkg does
    if name.endswith("-floor-query"):
        cmd = [h.PYTHON, str(FLOOR_APP), "query", "--store", version_dir, "--port", str(port)] + same_workers
        cmd += ["--union"] if union else []
        return {"cmd": cmd, "ready_path": "/sparql?query=ASK%7B%7D", "path": "/sparql?query=", **srj}
    command, install = {"oxigraph": ("oxigraph", "pip install oxigraph"),
                        "rdflib-endpoint": ("rdflib-endpoint", "pip install rdflib-endpoint uvicorn")}[name]
    if not h.tool(command):
        print("skipping %s: the `%s` command is not installed (%s)" % (name, command, install))
        return None
    if name == "oxigraph":
        cmd = [h.tool(command), "serve-read-only", "--location", version_dir, "--bind", "127.0.0.1:%d" % port]
        return {"cmd": cmd + (["--union-default-graph"] if union else []),
                "ready_path": "/query?query=ASK%7B%7D", "path": "/query?query=", **srj}
    # rdflib-endpoint 0.6 serves its SPARQL endpoint at "/"
    cmd = [h.tool(command), "serve", str(nq), "--host", "127.0.0.1", "--port", str(port)]
    return {"cmd": cmd, "ready_path": "/?query=ASK%7B%7D", "path": "/?query=", "cwd": workdir, "timeout": 120, **srj}


def record_cached_answers(servers: dict[str, h.Server], location: str, encoded: list[str], out: Path) -> Path:
    """amlkg's cached answers to the queries (for wsgi-floor-static), from an amlkg server of the run
    or, when there is none, from one started for it."""
    running = servers.get("amlkg") or next((s for n, s in servers.items() if n.startswith("amlkg")), None)
    server = running or h.amlkg_server(location)
    try:
        h.write_json(out, floor_app.record_answers(server.port, "/sparql", ["query=" + q for q in encoded]))
    finally:
        if server is not running:
            server.stop()
    return out


def start_servers(names, location: str, nq: Path, workdir: Path, workers: int | None,
                  encoded: list[str] = ()) -> dict[str, h.Server]:
    """The servers `names`, each on a free port, over the same data; `encoded`: the queries (for
    wsgi-floor-static, which answers them as amlkg answered them from its cache)."""
    servers: dict[str, h.Server] = {}
    version_dir = str(Path(location, "current").resolve())
    try:
        for name in names:
            if name not in KNOWN_SERVERS:
                raise SystemExit("unknown server %r (known: %s)" % (name, ", ".join(KNOWN_SERVERS)))
            answers = None
            if name.endswith("-floor-static"):
                answers = record_cached_answers(servers, location, list(encoded), workdir / "floor-answers.json")
            port = h.free_port()
            spec = _launch(name, port, location, version_dir, nq, workdir, workers, answers)
            if spec is None:
                continue
            path = spec.pop("path")
            servers[name] = h.Server(name, spec.pop("cmd"), port, spec.pop("ready_path"), **spec)
            servers[name].path = path
    except BaseException:
        for s in servers.values():
            s.stop()
        raise
    return servers


def rows_of(answer: dict) -> int:
    return len(answer.get("results", {}).get("bindings", []))


def run(args) -> dict:
    results, checks = [], {}
    with tempfile.TemporaryDirectory(prefix="amlkg-bench-") as tmp:
        workdir = Path(tmp)
        for dataset in args.datasets:
            location, nq = prepare(dataset, workdir, args.store if dataset == "amlkg" else None)
            encoded_queries = [urllib.parse.quote(text, safe="") for text in QUERIES[dataset].values()]
            servers = start_servers(args.servers, location, nq, workdir, args.workers, encoded_queries)
            try:
                for qname, text in QUERIES[dataset].items():
                    encoded = urllib.parse.quote(text, safe="")
                    counts = {n: rows_of(h.check_answer(s, s.path + encoded)) for n, s in servers.items()}
                    checks["%s/%s" % (dataset, qname)] = counts
                    if len(set(counts.values())) != 1:
                        raise SystemExit("servers disagree on %s/%s: %s" % (dataset, qname, counts))
                for rnd in range(args.rounds):
                    for qname, text in QUERIES[dataset].items():
                        encoded = urllib.parse.quote(text, safe="")
                        for clients in args.clients:
                            for mode in MODES:
                                for name, server in servers.items():
                                    if (name, mode) in SKIPPED:
                                        continue
                                    r = h.load(server, server.path + encoded, vary=mode == "uncached",
                                               connections=clients, seconds=args.seconds)
                                    row = {"dataset": dataset, "query": qname, "clients": clients, "mode": mode,
                                           "server": name, "round": rnd, **r.as_dict()}
                                    results.append(row)
                                    print("%-13s %-7s c=%d %-9s %-16s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms"
                                          "  cpu %6.0f us/req%s" % (
                                              dataset, qname, clients, mode, name, r.rps, r.p50_ms or 0,
                                              r.p99_ms or 0, r.server_cpu_us or 0,
                                              "  ERRORS %d" % r.errors if r.errors else ""), flush=True)
            finally:
                for s in servers.values():
                    s.stop()
    return {"machine": h.machine(), "seconds": args.seconds, "rounds": args.rounds, "row_counts": checks,
            "runs": results, "summary": summarise(results)}


def summarise(results: list[dict]) -> list[dict]:
    """Median over rounds per (dataset, query, clients, mode, server), with ratios to the others."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"], r["query"], r["clients"], r["mode"], r["server"]), []).append(r)
    med = {k: {"rps": h.median([x["rps"] for x in v]), "p50_ms": h.median([x["p50_ms"] for x in v]),
               "p99_ms": h.median([x["p99_ms"] for x in v]), "cpu_us": h.median([x["server_cpu_us"] for x in v]),
               "errors": sum(x["errors"] for x in v)} for k, v in groups.items()}
    out = []
    for (dataset, query, clients, mode, server), m in sorted(med.items()):
        row = {"dataset": dataset, "query": query, "clients": clients, "mode": mode, "server": server, **m}
        if server.startswith(("amlkg", "wsgi-floor", "asgi-floor")):
            for other in ("oxigraph", "rdflib-endpoint"):
                o = med.get((dataset, query, clients, mode, other))
                if o and o["rps"]:
                    row["x_" + other] = round(m["rps"] / o["rps"], 2)
        out.append(row)
    return out


def table(summary: list[dict]) -> str:
    """The summary as a Markdown table."""
    lines = ["| data | query | clients | mode | server | req/s | p50 ms | p99 ms | CPU µs/req | × Oxigraph | × rdflib-endpoint |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["dataset"], r["query"], r["clients"], mode_label(r["mode"], r["server"]), r["server"], "{:,.0f}".format(r["rps"]) if r["rps"] is not None else "-",
            _f(r["p50_ms"]), _f(r["p99_ms"]), "{:,.0f}".format(r["cpu_us"]) if r["cpu_us"] else "-",
            _x(r.get("x_oxigraph")), _x(r.get("x_rdflib-endpoint"))))
    return "\n".join(lines)


def mode_label(mode: str, server: str) -> str:
    """What a repeated query meant for `server`: amlkg's cache, a fixed body, or evaluating again."""
    if mode == "repeated" and server.startswith("amlkg"):
        return "cached"
    return "fixed body" if server.endswith("-floor-static") else mode


def _f(v) -> str:
    return "-" if v is None else ("%.2f" % v if v < 10 else "%.1f" % v)


def _x(v) -> str:
    return "" if v is None else "%.2f×" % v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    p.add_argument("--rounds", type=int, default=1, help="repeat the sweep; medians are reported")
    p.add_argument("--clients", default="1,8", help="concurrent clients, comma-separated")
    p.add_argument("--datasets", default="amlkg,synthetic-2k")
    p.add_argument("--servers", default=",".join(ALL_SERVERS),
                   help="comma-separated (default: %s; opt-in: %s)" % (",".join(ALL_SERVERS), ",".join(FLOOR_SERVERS)))
    p.add_argument("--workers", type=int, default=None,
                   help="workers of amlkg and the floor servers (default: one per core)")
    p.add_argument("--store", default=None, help="a built amlkg store to serve (default: build one)")
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.servers = [s for s in args.servers.split(",") if s]
    data = run(args)
    print()
    print(table(data["summary"]))
    if args.json:
        h.write_json(Path(args.json), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
