"""Build time from sources, and time from `serve` to the first answered request.

    .venv/bin/python benchmarks/build_and_start.py [--runs 3] [--json FILE]

- build: ``python -m kg_service build --store NEW`` as a user runs it (process start, sources,
  SHACL, QC, the HermiT reasoner, publish, release files), each run into a new store; the build's
  own step log gives where the time goes. Target (DESIGN.md): under 30 s.
- ready: ``python -m kg_service serve`` started on a built store, then polled every 20 ms until
  ``/health`` answers 200; also the first SPARQL query and the first options-finder answer after
  that (each worker opens the store and reads the graph's facts on first use). For granian (the
  default) and gunicorn (``KG_WSGI_SERVER=gunicorn``). Target: under 2 s to the first answer.

Medians over --runs.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

FIRST_QUERY = "/sparql?" + urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"})
FIRST_OPTIONS = "/api/options?status=relapsed&mutations=IDH1"


def time_build(store: Path, release: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    proc = subprocess.run([h.PYTHON, "-m", "kg_service", "build", "--store", str(store), "--release-dir", str(release)],
                          cwd=h.ROOT, capture_output=True, text=True, check=True)
    total = time.perf_counter() - t
    steps, last = {}, 0.0
    for line in proc.stdout.splitlines():  # "[4/7] reasoner (HermiT) inferred 8 triples (3.8 s)"
        m = re.match(r"\[(\d)/\d\] (.*?) \(([\d.]+) s\)$", line)
        if m:
            at = float(m.group(3))
            name = re.sub(r" (to|version|in) \S.*$", "", m.group(2).split(":")[0].split(" (")[0])
            steps["%s. %s" % (m.group(1), name)] = round(at - last, 2)
            last = at
    return total, steps


def time_ready(store: str, server: str) -> dict:
    t0 = time.perf_counter()
    proc = h.amlkg_server(store, name="amlkg-%s" % server, env={"KG_WSGI_SERVER": server})
    try:
        health = time.perf_counter() - t0
        h.wait_http(proc.base + FIRST_QUERY, 30, accept=h.SRJ)
        query = time.perf_counter() - t0
        h.wait_http(proc.base + FIRST_OPTIONS, 30, accept="application/json")
        options = time.perf_counter() - t0
    finally:
        proc.stop()
    return {"health_s": round(health, 3), "first_query_s": round(query, 3), "first_options_s": round(options, 3)}


def run(runs: int) -> dict:
    out = {"machine": h.machine(), "runs": runs, "build": [], "ready": {}}
    with tempfile.TemporaryDirectory(prefix="amlkg-build-") as tmp:
        tmp = Path(tmp)
        for i in range(runs):
            total, steps = time_build(tmp / ("store-%d" % i), tmp / ("release-%d" % i))
            out["build"].append({"seconds": round(total, 2), "steps": steps})
            print("build %d: %.1f s  %s" % (i + 1, total, ", ".join("%s %.1f s" % kv for kv in steps.items())),
                  flush=True)
        store = str(tmp / "store-0")
        for server in ("granian", "gunicorn"):
            out["ready"][server] = []
            for i in range(runs):
                r = time_ready(store, server)
                out["ready"][server].append(r)
                print("%-8s ready: /health %.2f s, first SPARQL answer %.2f s, first options answer %.2f s"
                      % (server, r["health_s"], r["first_query_s"], r["first_options_s"]), flush=True)
    out["summary"] = {
        "build_s": statistics.median(b["seconds"] for b in out["build"]),
        **{"%s_%s" % (server, k): statistics.median(r[k] for r in rs)
           for server, rs in out["ready"].items() for k in ("health_s", "first_query_s", "first_options_s")},
    }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    data = run(args.runs)
    s = data["summary"]
    print("\nmedian build %.1f s (target < 30 s); serve -> first answer: granian %.2f s, gunicorn %.2f s "
          "(target < 2 s)" % (s["build_s"], s["granian_health_s"], s["gunicorn_health_s"]))
    if args.json:
        h.write_json(Path(args.json), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
