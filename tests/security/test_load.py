"""The bounded load test (benchmarks/load_test.py): 16 concurrent clients, mixed JSON API and SPARQL,
60 s on loopback, with a pathological query kept running alongside. No request may fail and each
pathological query is cut at the timeout. The cheap requests' latency (p99 target: under 100 ms) is a
speed figure: it is printed here and reported by the benchmark (`make bench`), not asserted in a test.

AMLKG_LOAD_SECONDS shortens or lengthens the run (default 60, the issue's figure)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sixteen_clients_for_a_minute_with_a_pathological_query_alongside(store_path, tmp_path):
    seconds = float(os.environ.get("AMLKG_LOAD_SECONDS", "60"))
    out = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "load_test.py"), "--seconds", str(seconds),
                        "--clients", "16", "--store", store_path, "--json", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=seconds + 300)
    print(r.stdout)
    figures = json.loads(out.read_text())
    assert figures["requests"] > 1000
    assert figures["failures"] == 0, figures["failure_statuses"]
    assert figures["pathological"]["sent"] >= 1
    assert set(figures["pathological"]["statuses"]) <= {"504"}      # each one cut at the timeout
    assert r.returncode in (0, 3), r.stdout + r.stderr   # 3: only the p99 missed (reported, not tested)
