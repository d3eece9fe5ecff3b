"""Options latency while a worker is fresh: the first seconds after `/health` answers, and after a swap.

    .venv/bin/python benchmarks/options_cold.py [--seconds 5] [--clients 16] [--before REF] [--rounds 1]

Starts `python -m kg_service serve` on a copy of a built store, waits for /health and at once runs
--clients closed-loop clients for --seconds, every request a profile not asked before (a new remission
length, with statuses, mutation sets and ages that reach every side of the graph's thresholds). Then it
publishes a new graph version into the served store (the swap a build makes) and measures the next
--seconds the same way, and a third window after that (warm: the floor of this load on this machine).
With --before REF the same is done for the code at git REF (exported to a
temporary directory and run with this virtualenv), alternating, so both are measured in one run on the
same machine: the figures of a shared machine move between runs, their ratio much less.

The load: wrk (the default when installed; `harness.py`'s script draws each request's profile from
the lists below) or --generator python (16 forked Python clients, which take much of the 2 cores from
the server). They measure different things. The Python clients report each client's own latencies
(closed loop: a client stalled for 0.3 s sends nothing meanwhile, so a stall counts once per client).
wrk corrects its latencies for coordinated omission: a response slower than twice the mean interval
adds the latencies clients arriving at that rate would have seen during it, so a 0.3 s stall of a
worker weighs as much as the requests it held up. `run_all.py` reports both.

The issue 12 target: options p99 < 20 ms at 16 clients in both windows.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

ROOT = h.ROOT
STATUSES = ("relapsed", "refractory")
MUTATIONS = ("", "IDH1", "IDH2", "FLT3", "FLT3-ITD", "NPM1", "TP53", "FLT3,IDH1", "IDH1,IDH2", "IDH2,NPM1",
             "FLT3,NPM1", "KMT2A")
#: remission lengths (months) either side of the document's thresholds; each request adds its own fraction
REMISSION_BASES = (3, 9, 13, 30)
# the same profiles for wrk's script (harness.py, vary="profile"): lists joined by "|", commas encoded
h.PROFILE_VALUES.update({"AMLKG_BENCH_STATUSES": "|".join(STATUSES),
                         "AMLKG_BENCH_MUTATIONS": "|".join(m.replace(",", "%2C") for m in MUTATIONS),
                         "AMLKG_BENCH_MONTHS": "|".join(str(m) for m in REMISSION_BASES)})


def new_profile(client_id: int, i: int, rnd: random.Random) -> dict:
    """A profile no client asked before: the remission length is unique to (client, i)."""
    profile = {"status": rnd.choice(STATUSES), "mutations": rnd.choice(MUTATIONS),
               "remission_months": "%.6f" % (rnd.choice(REMISSION_BASES) + (client_id * 100_000 + i) * 1e-6)}
    if rnd.random() < 0.5:
        profile["age"] = rnd.randint(20, 90)
    if rnd.random() < 0.2:
        profile["fit"] = rnd.choice(("yes", "no"))
    return profile


def client(host: str, port: int, client_id: int, seconds: float, start, out) -> None:
    """One client: new profiles back to back until the time is up; latencies (s) to `out`."""
    rnd = random.Random(client_id * 7919 + int(time.time()))
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies, errors, i = [], 0, 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        try:
            conn.request("GET", "/api/options?" + urlencode(new_profile(client_id, i, rnd)))
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors += 1
        except OSError:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        latencies.append(time.perf_counter() - t)
        i += 1
    conn.close()
    out.put((latencies, errors))


def window(server: h.Server, clients: int, seconds: float, generator: str) -> dict:
    """`clients` closed-loop clients for `seconds`, each request a new profile: wrk (its script draws the
    profiles from the lists above) or the Python clients of `client`."""
    if generator == "wrk":
        load = h.load(server, "/api/options?", vary="profile", connections=clients, seconds=seconds,
                      accept="application/json", generator="wrk")
        return {"requests": load.requests, "errors": load.errors, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms,
                "max_ms": load.extra.get("max_ms"), "rps": load.rps}
    port = server.port
    results, elapsed = h.run_clients(client, [("127.0.0.1", port, n, seconds) for n in range(clients)], seconds)
    lat = [x for r, _ in results for x in r]
    p50, p99 = h.p50_p99_ms(lat)
    return {"requests": len(lat), "errors": sum(e for _, e in results), "p50_ms": p50, "p99_ms": p99,
            "max_ms": 1000 * max(lat) if lat else None, "rps": len(lat) / elapsed}


def measure(code: Path, store: str, graphs: dict, clients: int, seconds: float, generator: str) -> dict:
    """Start the server from `code`, measure right after ready, swap the version, measure again."""
    port = h.free_port()
    server = h.Server("amlkg", h.amlkg_command(store, port), port, "/health", cwd=code, timeout=120)
    try:
        first = window(server, clients, seconds, generator)
        h.publish_graphs(Path(store), graphs, secrets.token_hex(32))  # a new version: every worker swaps
        swap = window(server, clients, seconds, generator)
        warm = window(server, clients, seconds, generator)  # the floor: the same load on a warm worker
    finally:
        server.stop()
    return {"ready_s": server.ready_after, "after_ready": first, "after_swap": swap, "warm": warm}


def export(ref: str, into: Path) -> Path:
    """The tree of git `ref` as plain files (the virtualenv's packages serve it; its own code runs)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--store", default=None, help="a built store to copy (default: var/store, else a fresh build)")
    p.add_argument("--before", default=None, help="a git ref to measure side by side (e.g. main)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--generator", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                   help="the load generator (default: wrk when installed; the Python clients take more of the "
                        "machine's CPU from the server)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        built = args.store or (str(ROOT / "var" / "store") if (ROOT / "var" / "store" / "current").exists() else None)
        source, release = h.ensure_built(work, built)
        graphs = h.graphs_of_release(release)
        codes = {"after": ROOT}
        if args.before:
            codes = {"before": export(args.before, work / "before"), **codes}
        figures = []
        for n in range(args.rounds):
            for label, code in (codes.items() if n % 2 == 0 else reversed(codes.items())):
                store = str(work / ("store-%s-%d" % (label, n)))
                shutil.copytree(source, store, symlinks=True)
                figures.append({"code": label, "round": n, **measure(code, store, graphs, args.clients, args.seconds,
                                                                            args.generator)})
                shutil.rmtree(store, ignore_errors=True)
    print("%-7s %5s %-12s %9s %8s %8s %8s %7s" % ("code", "round", "window", "requests", "p50 ms", "p99 ms",
                                                 "max ms", "req/s"))
    for f in figures:
        for name in ("after_ready", "after_swap", "warm"):
            w = f[name]
            print("%-7s %5d %-12s %9d %8.1f %8.1f %8s %7.0f%s" % (
                f["code"], f["round"], name, w["requests"], w["p50_ms"], w["p99_ms"],
                "-" if w["max_ms"] is None else "%.1f" % w["max_ms"], w["rps"],
                "  (%d errors)" % w["errors"] if w["errors"] else ""))
    print("machine: %d cores; %d clients (%s), %g s per window; target: p99 < 20 ms in both windows"
          % (os.cpu_count() or 0, args.clients, args.generator, args.seconds))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
