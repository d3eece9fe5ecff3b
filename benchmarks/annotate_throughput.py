"""The batch annotator's throughput on a generated cohort (default 100,000 rows).

    .venv/bin/python benchmarks/annotate_throughput.py [--rows 100000] [--store var/store] [--seed 7]

Generates a cohort with a realistic mix (mostly AML, some APL; a few known and unknown mutations;
integer ages and remission lengths; symptoms on a third of the rows; 0.5 % malformed rows), runs
`python -m kg_service annotate` on it as a user would (a subprocess, start-up included), and prints
rows/s, the number of distinct raw profiles and of distinct situations, and the bad rows reported.
Builds the graph into a temporary store when --store is not given and var/store does not exist.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["patient_id", "status", "disease", "mutations", "age", "remission_months", "prior_therapy", "site",
           "symptoms"]
MUTATIONS = ["", "", "", "none", "IDH1", "IDH2", "FLT3", "FLT3;IDH1", "NPM1", "TP53", "FLT3,NPM1", "IDH2;NPM1"]
SYMPTOMS = ["pain", "low_blood_counts", "fatigue", "nausea", "appetite_loss", "infection"]


def generate(path: Path, rows: int, seed: int) -> int:
    """Write the cohort; returns the number of distinct profiles (rows that differ only in id count once)."""
    rng = random.Random(seed)
    distinct = set()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i in range(rows):
            apl = rng.random() < 0.08
            status = rng.choice(["relapsed", "relapsed", "relapsed", "refractory", "refractory"])
            row = {
                "patient_id": "P%06d" % i,
                "status": status,
                "disease": "APL" if apl else rng.choice(["AML", "AML", ""]),
                "mutations": "" if apl else rng.choice(MUTATIONS),
                "age": str(rng.randint(18, 90)) if rng.random() < 0.9 else "",
                "remission_months": str(rng.randint(0, 48)) if status == "relapsed" and rng.random() < 0.8 else "",
                "prior_therapy": rng.choice(["ATRA+ATO", "ATRA+chemo", ""]) if apl else "",
                "site": "cns" if rng.random() < 0.03 else "",
                "symptoms": ";".join(rng.sample(SYMPTOMS, rng.randint(1, 2))) if rng.random() < 0.33 else "",
            }
            if rng.random() < 0.005:  # malformed rows: reported, never fatal
                row[rng.choice(["status", "age", "remission_months", "mutations"])] = rng.choice(
                    ["unknown", "-4", "abc", "not a gene!"])
            distinct.add(tuple(row[c] for c in COLUMNS[1:]))
            w.writerow([row[c] for c in COLUMNS])
    return len(distinct)


def ensure_store(store: str | None, tmp: Path) -> str:
    if store:
        return store
    if (ROOT / "var" / "store" / "current").exists():
        return str(ROOT / "var" / "store")
    location = tmp / "store"
    subprocess.run([sys.executable, "-m", "kg_service", "build", "--store", str(location), "--release-dir",
                    str(tmp / "release")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return str(location)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--store", default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        store = ensure_store(args.store, tmp)
        cohort, out = tmp / "cohort.csv", tmp / "annotated.csv"
        t = time.perf_counter()
        distinct = generate(cohort, args.rows, args.seed)
        print("generated %s rows (%s distinct profiles) in %.1f s" % (format(args.rows, ","), format(distinct, ","),
                                                                      time.perf_counter() - t))
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "kg_service", "annotate", str(cohort), "-o", str(out),
                               "--store", store, "--progress", "never"], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        bad = sum(1 for line in proc.stderr.splitlines() if line.startswith("line "))
        with out.open(encoding="utf-8") as fh:
            written = sum(1 for _ in fh) - 1
        summary = proc.stderr.strip().splitlines()[-1]
        print("annotator: %s" % summary)
        print("end to end (process start, store open, read, annotate, write): %.2f s, %s rows/s; "
              "%s rows written, %s bad rows reported with their line number"
              % (elapsed, format(int(args.rows / elapsed), ","), format(written, ","), format(bad, ",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
