"""Where a worker's time goes under load: py-spy samples of every worker while wrk drives one scenario.

    .venv/bin/python benchmarks/profile_server.py [--scenarios all] [--seconds 8] [--store PATH]
        [--env KEY=VALUE ...] [--out DIR]

Starts `python -m kg_service serve` (as shipped), drives it with wrk (8 connections) for each
scenario, and samples every worker with ``py-spy record`` (100 Hz, raw stacks) meanwhile. Each
sample's stack is classified by the innermost frame that says what the thread is doing:

- *query evaluation* - inside the pyoxigraph call (``store.query`` / ``serialize``: Rust, GIL released);
- *waiting* - a thread parked on a lock, a queue or the query's future (idle time, left out of the
  percentages);
- *thread hop* - handing a query to the helper thread and back (what the server-side timeout costs);
- *Flask/Werkzeug*, *amlkg code* (``kg_service``), *granian glue*, *JSON/other libraries*.

Samples of threads without any Python frame (granian's Rust HTTP threads) are counted apart; the
server's whole CPU per request (all threads, from /proc) is printed with each scenario.

Scenarios: sparql-uncached-simple, sparql-uncached-filter, sparql-cached, options-uncached,
options-cached. Needs py-spy (``pip install py-spy``; the ``bench`` extra) and ptrace rights.
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

P = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
SCENARIOS = {
    "sparql-uncached-simple": ("/sparql?query=" + urllib.parse.quote(P + "SELECT ?s ?l WHERE { ?s rdfs:label ?l } LIMIT 10", safe=""),
                               "comment", h.SRJ),
    "sparql-uncached-filter": ("/sparql?query=" + urllib.parse.quote(
        P + 'SELECT ?s ?l WHERE { ?s rdfs:label ?l FILTER(CONTAINS(LCASE(STR(?l)), "inhib")) }', safe=""), "comment", h.SRJ),
    "sparql-cached": ("/sparql?query=" + urllib.parse.quote(P + "SELECT ?s ?l WHERE { ?s rdfs:label ?l } LIMIT 10", safe=""),
                      None, h.SRJ),
    # /api/options: a remission length never asked before per request (digits appended)
    "options-uncached": ("/api/options?status=relapsed&mutations=IDH1&remission_months=13.", "digits", "application/json"),
    "options-cached": ("/api/options?status=relapsed&mutations=IDH1", None, "application/json"),
}
WAIT_LEAVES = ("threading.py", "queue.py", "selectors.py")
HOP = ("concurrent/futures",)


def classify(frames: list[str]) -> str:
    """The category of one sampled stack (outermost first)."""
    if not frames:
        return "no Python frame"
    leaf = frames[-1]
    text = ";".join(frames)
    if any(w in leaf for w in WAIT_LEAVES) or leaf.startswith(("wait ", "acquire ")) or "thread.py:8" in leaf:
        return "waiting"
    if "store/embedded.py" in text and ("run (kg_service/store/embedded.py" in text or "_query (" in leaf
                                        or "embedded.py" in leaf):
        if "embedded.py" in leaf:
            return "query evaluation (pyoxigraph, Rust)"
    if "store/remote.py" in leaf or "http/client.py" in leaf or "socket.py" in leaf:
        return "remote store I/O"
    if any(x in leaf for x in HOP) or ("embedded.py" in text and "_run" in leaf):
        return "thread hop (query timeout)"
    if "kg_service/" in leaf:
        return "amlkg code"
    if "flask/" in leaf or "werkzeug/" in leaf:
        return "Flask/Werkzeug"
    if "granian/" in leaf:
        return "granian glue (entering Python, GIL)"
    return "JSON and other libraries"


def summarise(raw: Path, top: int = 12) -> dict:
    cats: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    total = busy = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        total += n
        cat = classify(frames)
        cats[cat] += n
        if cat != "waiting":
            busy += n
            if frames:
                leaves[_short(frames[-1])] += n
    busy = (busy - cats["no Python frame"]) or 1
    return {"samples": total, "busy_samples": busy,
            "categories": {k: round(100 * v / busy, 1) for k, v in cats.most_common()
                           if k not in ("waiting", "no Python frame")},
            "waiting_share_of_all": round(100 * cats["waiting"] / (total or 1), 1),
            "no_python_frame_share_of_all": round(100 * cats["no Python frame"] / (total or 1), 1),
            "top_frames": [(k, round(100 * v / busy, 1)) for k, v in leaves.most_common(top)]}


def _short(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, line = where.rpartition(":")
    parts = path.split("/")
    tail = "/".join(parts[-2:]) if len(parts) > 1 else path
    return "%s (%s:%s)" % (name, tail, line)


def profile(scenario: str, seconds: float, store: str, env: dict, out: Path) -> dict:
    path, vary, accept = SCENARIOS[scenario]
    server = h.amlkg_server(store, env=env)
    try:
        for i in range(20):  # warm both workers' caches and graph facts
            h.wait_http(server.base + path + h._suffix(vary, 9, i), 10, accept=accept)
        workers = sorted(server.pids() - {server.proc.pid})
        raws = [out / ("%s-%d.txt" % (scenario, pid)) for pid in workers]
        spies = [subprocess.Popen([h.tool("py-spy"), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100",
                                   "-f", "raw", "-o", str(raw), "--nonblocking"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for pid, raw in zip(workers, raws)]
        load = h.load(server, path, vary=vary, connections=8, seconds=seconds + 1, accept=accept)
        for spy in spies:
            spy.wait(60)
    finally:
        server.stop()
    merged = out / ("%s.txt" % scenario)
    merged.write_text("".join(r.read_text() for r in raws if r.exists()))
    for r in raws:
        r.unlink(missing_ok=True)
    summary = summarise(merged)
    summary.update({"scenario": scenario, "rps": round(load.rps), "errors": load.errors,
                    "server_cpu_us_per_request": load.server_cpu_us})
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", default="all")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--store", default=None)
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    p.add_argument("--out", default=None, help="keep the raw py-spy stacks here")
    args = p.parse_args(argv)
    if not h.tool("py-spy"):
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    env = dict(kv.split("=", 1) for kv in args.env)
    with tempfile.TemporaryDirectory(prefix="amlkg-profile-") as tmp:
        store = args.store or h.ensure_built(Path(tmp))[0]
        out = Path(args.out) if args.out else Path(tmp) / "profiles"
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            s = profile(name, args.seconds, store, env, out)
            print("\n== %s: %d req/s, %s µs server CPU per request, %d errors; %d samples (%.0f %% waiting, "
                  "%.0f %% in threads without a Python frame)" % (
                      name, s["rps"], s["server_cpu_us_per_request"], s["errors"], s["samples"],
                      s["waiting_share_of_all"], s["no_python_frame_share_of_all"]))
            print("   busy Python-thread time: " + ", ".join("%s %.0f %%" % kv for kv in s["categories"].items()))
            for frame, pct in s["top_frames"]:
                print("   %5.1f %%  %s" % (pct, frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
