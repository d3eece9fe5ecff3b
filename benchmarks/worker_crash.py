"""What an engine crash costs, and what evaluating in a separate process would cost instead.

1. Against a real `serve` (2 workers): SIGSEGV one worker at a time, 20 times, every 0.5 s; then all
   workers at once, 5 times. For each kill: seconds until `/health` answers again.
   (A side client requesting `/health` in a loop counts its failures: refused connections while no
   worker listens, resets of connections queued on the killed worker.)
2. The price of isolating evaluation in a child process per worker (a crash would then cost one
   request, not a worker): round trip of a query to a child process holding the store, against the
   same query in process, for a small and a 1,000-row answer.

Run: ``.venv/bin/python benchmarks/worker_crash.py [--store var/store]``; prints JSON.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import child_pids  # noqa: E402
from tests.security.support import ServeProcess, copy_store  # noqa: E402


def _workers(server) -> list[int]:
    return sorted(w for i in child_pids(server.proc.pid) for w in child_pids(i))


def _until_health(url: str, bound: float = 10.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < bound:
        try:
            with urllib.request.urlopen(url + "/health", timeout=bound) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.005)
    return float("inf")


def crashes(store: str) -> dict:
    import tempfile
    private = copy_store(store, Path(tempfile.mkdtemp()) / "store")
    server = ServeProcess(private, env={"KG_REQUEST_LOG": "off"}, workers=2).start()
    failed, answered, stop = [0], [0], threading.Event()
    errors: dict[str, int] = {}

    def client():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(server.url + "/health", timeout=10) as r:
                    r.read()
                answered[0] += 1
            except OSError as e:
                failed[0] += 1
                kind = "HTTP %d" % e.code if hasattr(e, "code") else type(getattr(e, "reason", e)).__name__
                errors[kind] = errors.get(kind, 0) + 1
                time.sleep(0.01)  # a client retrying, not a busy loop
    side = threading.Thread(target=client)
    side.start()
    try:
        one, all_at_once = [], []
        for i in range(20):
            found = _workers(server)
            os.kill(found[i % len(found)], signal.SIGSEGV)
            one.append(_until_health(server.url))
            time.sleep(max(0.0, 0.5 - one[-1]))
        for _ in range(5):
            time.sleep(1.0)
            for w in _workers(server):
                os.kill(w, signal.SIGSEGV)
            all_at_once.append(_until_health(server.url))
        alive = server.proc.poll() is None
    finally:
        stop.set()
        side.join()
        server.stop()
    return {"one_worker_killed_s": {"max": max(one), "median": statistics.median(one)},
            "all_workers_killed_s": {"max": max(all_at_once), "median": statistics.median(all_at_once)},
            "side_client": {"answered": answered[0], "failed": failed[0], "errors": errors},
            "supervisor_alive": alive}


def _child(store: str, conn) -> None:
    from kg_service.store import open_store
    s = open_store(store, read_only=True)
    while True:
        text = conn.recv()
        if text is None:
            return
        conn.send(s.select(text))


def isolation(store: str) -> dict:
    from kg_service.store import open_store
    queries = {"small": "SELECT ?s WHERE { ?s a ?t } LIMIT 5",
               "1000_rows": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 1000"}
    inproc = open_store(store, read_only=True)
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_child, args=(store, child))
    proc.start()
    out = {}
    try:
        for name, text in queries.items():
            rows = []
            for _ in range(3):  # warm both
                inproc.select(text)
                parent.send(text)
                rows = parent.recv()
            t0 = time.perf_counter()
            for _ in range(200):
                inproc.select(text)
            local = (time.perf_counter() - t0) / 200
            t0 = time.perf_counter()
            for _ in range(200):
                parent.send(text)
                parent.recv()
            remote = (time.perf_counter() - t0) / 200
            out[name] = {"rows": len(rows), "in_process_ms": round(local * 1000, 3),
                         "child_process_ms": round(remote * 1000, 3),
                         "overhead_ms": round((remote - local) * 1000, 3)}
    finally:
        parent.send(None)
        proc.join(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="var/store")
    args = ap.parse_args()
    print(json.dumps({"crashes": crashes(args.store), "isolation": isolation(args.store)}, indent=1))


if __name__ == "__main__":
    main()
