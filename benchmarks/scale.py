"""Scale: the service with a generated 1-million-triple background beside our graph, against our graph alone.

    .venv/bin/python benchmarks/scale.py [--triples 1000000] [--variants unrelated,same-vocabulary]
        [--same-vocabulary-triples 100000] [--samples 40] [--store PATH] [--json FILE]

The background is many synthetic source documents, each its own named graph
(``https://w3id.org/amlkg/graph/bench-<variant>-<n>``), each a copy of our document's graph
(about 1,750 triples: the document, its sections, 34 recommendations with their conditions, quotes
and selectors) with its own entity IRIs and its own text (every plain literal carries the copy's
number), generated as N-Triples directly. Two variants:

- **unrelated**: the copies also use their own vocabulary (classes and properties under
  ``https://example.org/bench/vocab/``, standard RDF/RDFS/OWL/OA/PROV/DCTERMS terms kept): data of
  another project sharing the store. Our answers must not change; the target (DESIGN.md) is that
  the options finder and the named queries stay within 2x of their small-graph latency.
- **same-vocabulary**: the copies use our vocabulary, as a real second document (a newer revision,
  an institutional guideline) would. Its recommendations then *are* options, and the finder, which
  reads every Recommendation in the union of the graphs, returns them with ours: the figures show
  how the finder's cost and answers grow with the number of documents (a modelling limit, reported,
  not a target). Run at --same-vocabulary-triples (default 100,000) to stay bounded.

For our graph alone and for each variant: the time to load the store (``EmbeddedStore.publish`` of
every graph: bulk load, the union copy, compaction), its size on disk, the time from ``serve`` to the
first answer, the service's memory (RSS of all its processes, after the load), and the latency at
one client of: the options finder on profiles never asked before (``options.rq`` runs) and on a
repeated profile (cached), and each named query (``queries/*.rq``) sent to /sparql with a new
comment each time (so no cache answers). Ratios are background / small.

Every store here is served from disk (``KG_STORE_MEMORY_QUADS=0``): the figures compare the cost of a
background, like with like. By default `serve` answers a store of up to 100,000 quads from a copy in
memory, so our graph alone is faster still (sparql_throughput.py shows by how much), and a store with
a 1 M background is served from disk.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

DOCUMENT_GRAPH = "https://w3id.org/amlkg/graph/acs2022"
DOCUMENT_PREFIX = "https://w3id.org/amlkg/acs2022"
AMLKG = "https://w3id.org/amlkg/"
BENCH_VOCAB = "https://example.org/bench/vocab/"
GRAPH_PREFIX = "https://w3id.org/amlkg/graph/bench-"
_LITERAL_END = re.compile(r'"(@[A-Za-z0-9-]+)? \.$')
PROFILE = {"status": "relapsed", "mutations": "IDH1"}


def document_template(ntriples: bytes, variant: str) -> str:
    """Our document's graph as a `str.format` template of one synthetic copy (placeholder `n`)."""
    out = []
    for line in ntriples.decode("utf-8").splitlines():
        if not line.strip():
            continue
        line = line.replace("{", "{{").replace("}", "}}")
        line = line.replace(DOCUMENT_PREFIX, AMLKG + "bench{n}")  # the copy's own entities
        if variant == "unrelated":
            line = line.replace(AMLKG, BENCH_VOCAB)             # ... and its own vocabulary
        m = _LITERAL_END.search(line)
        if m:  # a plain or language-tagged literal: the copy's own text
            line = line[:m.start()] + ' (copy {n})"' + (m.group(1) or "") + " ."
        out.append(line)
    return "\n".join(out) + "\n"


def background(ntriples: bytes, variant: str, triples: int) -> dict[str, bytes]:
    """Synthetic documents, one named graph each, about `triples` triples in all."""
    template = document_template(ntriples, variant)
    per_doc = template.count("\n")
    docs = max(1, round(triples / per_doc))
    return {"%s%s-%04d" % (GRAPH_PREFIX, variant, n): template.format(n=n).encode("utf-8") for n in range(docs)}


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def named_queries() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((h.ROOT / "queries").glob("*.rq"))}


def get(base: str, path: str, accept: str = "application/json", timeout: float = 60) -> tuple[int, bytes, float]:
    t = time.perf_counter()
    req = urllib.request.Request(base + path, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), time.perf_counter() - t
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.perf_counter() - t


def percentiles(samples: list[float]) -> dict:
    s = sorted(samples)
    if not s:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": round(1000 * s[len(s) // 2], 2), "p99_ms": round(1000 * s[min(len(s) - 1, int(len(s) * 0.99))], 2)}


def measure(server: h.Server, samples: int, label: str) -> dict:
    """Latencies at one client; every answer checked to be a 200."""
    out: dict = {}
    # options finder, uncached: each profile new (a remission length never asked), so options.rq runs
    status, body, _ = get(server.base, "/api/options?" + urllib.parse.urlencode(PROFILE))  # warm the graph facts
    if status != 200:
        raise RuntimeError("%s: /api/options -> %d %s" % (label, status, body[:300]))
    answer = json.loads(body)
    out["options_in_answer"] = len(answer["options"])
    out["options_from_other_documents"] = sum(1 for o in answer["options"] if "/bench" in o["recommendation"])
    lat, errors = [], 0
    for i in range(samples):
        profile = dict(PROFILE, remission_months="%d.%06d" % (13, i + 1 + int(time.time() * 1000) % 100000))
        status, body, t = get(server.base, "/api/options?" + urllib.parse.urlencode(profile))
        errors += status != 200
        lat.append(t)
    out["options_uncached"] = {**percentiles(lat), "errors": errors}
    lat = []
    for _ in range(samples):
        status, _body, t = get(server.base, "/api/options?" + urllib.parse.urlencode(PROFILE))
        lat.append(t)
    out["options_cached"] = percentiles(lat)
    # named queries through /sparql, a new comment each time
    out["named_queries"] = {}
    for name, text in named_queries().items():
        lat, errors, rows = [], 0, None
        for i in range(max(3, samples // 4)):
            q = "%s\n# %s %d %d" % (text, label, i, time.time_ns())
            status, body, t = get(server.base, "/sparql?" + urllib.parse.urlencode({"query": q}), h.SRJ)
            if status != 200:
                errors += 1
                if i >= 1:
                    break
            else:
                rows = len(json.loads(body)["results"]["bindings"])
            lat.append(t)
        out["named_queries"][name] = {**percentiles(lat), "rows": rows, "errors": errors}
    return out


def serve_and_measure(location: str, samples: int, label: str, env: dict) -> dict:
    t = time.perf_counter()
    server = h.amlkg_server(location, name=label, env=env, timeout=300)
    ready = time.perf_counter() - t
    try:
        figures = measure(server, samples, label)
        figures["ready_s"] = round(ready, 2)
        figures["rss_mb"] = round(server.rss_mb(), 1)
        return figures
    finally:
        server.stop()


def run(args) -> dict:
    env = {"KG_QUERY_TIMEOUT": str(args.query_timeout), "KG_STORE_MEMORY_QUADS": "0"}
    results = {"machine": h.machine(), "triples": args.triples, "samples": args.samples, "stores": {}}
    with tempfile.TemporaryDirectory(prefix="amlkg-scale-") as tmp:
        tmp = Path(tmp)
        small_location, release = h.ensure_built(tmp / "small", args.store)
        ours = h.graphs_of_release(release)
        our_triples = sum(d.count(b"\n") for d in ours.values())
        configs = [("small", None, 0)]
        for variant in args.variants:
            configs.append((variant, variant, args.triples if variant == "unrelated" else args.same_vocabulary_triples))
        for label, variant, size in configs:
            t = time.perf_counter()
            graphs = dict(ours)
            generated = 0
            if variant:
                extra = background(ours[DOCUMENT_GRAPH], variant, size)
                generated = sum(d.count(b"\n") for d in extra.values())
                graphs.update(extra)
            gen_s = time.perf_counter() - t
            root = tmp / label / "store"
            t = time.perf_counter()
            h.publish_graphs(root, graphs, "scale-%s" % label)
            load_s = time.perf_counter() - t
            del graphs
            print("%-16s %9d background triples in %4d graphs: generated in %.1f s, loaded in %.1f s, %.0f MB on disk"
                  % (label, generated, len(extra) if variant else 0, gen_s, load_s, dir_size_mb(root)), flush=True)
            figures = serve_and_measure(str(root), args.samples, label, env)
            figures.update({"background_triples": generated, "our_triples": our_triples,
                            "graphs": (len(extra) if variant else 0) + len(ours), "generate_s": round(gen_s, 2),
                            "load_s": round(load_s, 2), "disk_mb": round(dir_size_mb(root), 1)})
            results["stores"][label] = figures
            print(summary_lines(label, figures), flush=True)
    results["ratios"] = ratios(results["stores"])
    return results


def summary_lines(label: str, f: dict) -> str:
    lines = ["  %s: ready %.2f s, RSS %.0f MB, options uncached p50 %.1f ms p99 %.1f ms (%d errors), cached p50 %.2f ms; "
             "%d options in the CQ1 answer (%d from other documents)" % (
                 label, f["ready_s"], f["rss_mb"], f["options_uncached"]["p50_ms"] or -1,
                 f["options_uncached"]["p99_ms"] or -1, f["options_uncached"]["errors"], f["options_cached"]["p50_ms"],
                 f["options_in_answer"], f["options_from_other_documents"])]
    for name, q in f["named_queries"].items():
        lines.append("    %-20s p50 %8.1f ms  rows %s%s" % (name, q["p50_ms"] or -1, q["rows"],
                                                            "  ERRORS %d" % q["errors"] if q["errors"] else ""))
    return "\n".join(lines)


def ratios(stores: dict) -> dict:
    small = stores.get("small")
    out = {}
    for label, f in stores.items():
        if label == "small" or not small:
            continue
        r = {"options_uncached_p50": _ratio(f["options_uncached"]["p50_ms"], small["options_uncached"]["p50_ms"]),
             "options_uncached_p99": _ratio(f["options_uncached"]["p99_ms"], small["options_uncached"]["p99_ms"]),
             "options_cached_p50": _ratio(f["options_cached"]["p50_ms"], small["options_cached"]["p50_ms"]),
             "rss": _ratio(f["rss_mb"], small["rss_mb"]), "ready": _ratio(f["ready_s"], small["ready_s"])}
        for name, q in f["named_queries"].items():
            r["query_" + name + "_p50"] = _ratio(q["p50_ms"], small["named_queries"][name]["p50_ms"])
        out[label] = r
    return out


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def table(results: dict) -> str:
    stores = results["stores"]
    labels = list(stores)
    head = "| | " + " | ".join(labels) + " |"
    lines = [head, "|---" * (len(labels) + 1) + "|"]

    def row(name, fn):
        cells = []
        for label in labels:
            try:
                cells.append(fn(stores[label], results["ratios"].get(label, {})))
            except (KeyError, TypeError):
                cells.append("-")
        lines.append("| %s | %s |" % (name, " | ".join(cells)))

    def with_ratio(value, ratio, unit=" ms"):
        return "%s%s%s" % (_num(value), unit, " (%.2f×)" % ratio if ratio else "")

    row("background triples / graphs", lambda f, r: "{:,} / {}".format(f["background_triples"], f["graphs"]))
    row("load (publish) s", lambda f, r: "%.1f" % f["load_s"])
    row("disk MB", lambda f, r: "%.0f" % f["disk_mb"])
    row("serve → first answer s", lambda f, r: with_ratio(f["ready_s"], r.get("ready"), " s"))
    row("RSS of the service MB", lambda f, r: with_ratio(f["rss_mb"], r.get("rss"), ""))
    row("options uncached p50", lambda f, r: with_ratio(f["options_uncached"]["p50_ms"], r.get("options_uncached_p50")))
    row("options uncached p99", lambda f, r: with_ratio(f["options_uncached"]["p99_ms"], r.get("options_uncached_p99")))
    row("options cached p50", lambda f, r: with_ratio(f["options_cached"]["p50_ms"], r.get("options_cached_p50")))
    row("CQ1 options (from other documents)", lambda f, r: "%d (%d)" % (f["options_in_answer"],
                                                                         f["options_from_other_documents"]))
    for name in stores["small"]["named_queries"]:
        row("query %s p50" % name, lambda f, r, n=name: with_ratio(
            f["named_queries"][n]["p50_ms"], r.get("query_%s_p50" % n))
            + (" ERR" if f["named_queries"][n]["errors"] else ""))
    return "\n".join(lines)


def _num(v) -> str:
    if v is None:
        return "-"
    return "%.2f" % v if v < 10 else "%.0f" % v if v >= 100 else "%.1f" % v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--triples", type=int, default=1_000_000, help="background size of the unrelated variant")
    p.add_argument("--same-vocabulary-triples", type=int, default=100_000)
    p.add_argument("--variants", default="unrelated,same-vocabulary")
    p.add_argument("--samples", type=int, default=40, help="requests per latency figure")
    p.add_argument("--query-timeout", type=float, default=10.0, help="KG_QUERY_TIMEOUT of the servers")
    p.add_argument("--store", default=None, help="a built amlkg store (default: build one)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    results = run(args)
    print()
    print(table(results))
    if args.json:
        h.write_json(Path(args.json), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
