"""`python -m kg_service source-diff` on 10 MB revisions, end to end (process start included).

    .venv/bin/python benchmarks/source_diff_10mb.py [--store var/store] [--mb 10] [--runs 3]

Three texts of the given size, each derived from the document: its copies with one quote reworded (the
quotes are found by exact search, the copies de-duplicated), random sentences in the document's own
words (no quote is found exactly: every quote goes through the fuzzy search, the worst case), and a
text unrelated to the document. Prints the best and median wall time of each, and its classification.
The target is under 10 s each. Builds the graph into a temporary store when --store is not given and
var/store does not exist.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "loaders" / "data" / "acs-aml-refractory-relapsed.txt"


def texts(size: int) -> dict[str, str]:
    doc = SOURCE.read_text(encoding="utf-8")
    hedged = doc.replace("one option might be treatment with the FLT3", "one option is treatment with the FLT3")
    rng = random.Random(1)
    words = doc.split()
    chunks, n = [], 0
    while n < size:
        s = " ".join(rng.choice(words) for _ in range(rng.randint(8, 40))).capitalize() + ".\n"
        chunks.append(s)
        n += len(s.encode("utf-8"))
    garden = ("Tomatoes need at least six hours of sun a day. Water them deeply twice a week. "
              "Pick the fruit when it is fully coloured.\n\n")
    return {"copies of the document": hedged * (size // len(hedged.encode("utf-8")) + 1),
            "random sentences in its words": "".join(chunks),
            "an unrelated text": garden * (size // len(garden) + 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or ("var/store" if (ROOT / "var" / "store" / "current").exists() else None)
        if store is None:
            store = str(Path(tmp) / "store")
            subprocess.run([sys.executable, "-m", "kg_service", "build", "--store", store, "--release-dir",
                            str(Path(tmp) / "release")], cwd=ROOT, check=True, capture_output=True)
        for name, text in texts(int(args.mb * 1_000_000)).items():
            path = Path(tmp) / "revision.txt"
            path.write_text(text, encoding="utf-8")
            times, cpu, report = [], [], {}
            for _ in range(args.runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "kg_service", "source-diff", str(path), "--store", store],
                                   cwd=ROOT, capture_output=True)
                times.append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                report = json.loads(r.stdout)
            counts = ", ".join("%d %s" % (len(v), k) for k, v in report.items())
            # the CPU time says what the run costs when the machine is shared (wall time then waits for a core)
            print("%-30s %5.1f MB  wall best %5.2f s, median %5.2f s; CPU best %5.2f s  (%s)"
                  % (name, path.stat().st_size / 1e6, min(times), statistics.median(times), min(cpu), counts))
    print("load average %.1f %.1f %.1f on %d cores" % (*os.getloadavg(), os.cpu_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
