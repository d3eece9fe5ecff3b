"""`python -m kg_service options | ask | annotate` as a user runs them (subprocesses)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

from .conftest import TEXT


def run(*args, store: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kg_service", *args, "--store", store], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_options(store_path):
    r = run("options", "--status", "relapsed", "--mutations", "IDH1", store=store_path)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["profile"]["mutations"] == ["IDH1"]
    assert {"ivosidenib", "olutasidenib"} <= {o["therapy"]["label"] for o in answer["options"]}
    assert all(o["source"]["quote"] in TEXT for o in answer["options"])


def test_options_with_every_field(store_path):
    r = run("options", "--status", "relapsed", "--disease", "APL", "--remission-months", "4", "--age", "50",
            "--prior-therapy", "ATRA+ATO", "--site", "marrow", "--symptoms", "pain,nausea", "--mutations", "",
            store=store_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["profile"] == {"disease": "APL", "status": "relapsed", "mutations": [],
                                               "remission_months": 4, "age": 50, "prior_therapy": "ATRA+ATO",
                                               "site": "marrow", "symptoms": ["pain", "nausea"]}


def test_options_bad_input_exits_2_with_the_errors(store_path):
    r = run("options", "--status", "gone", "--age", "-1", store=store_path)
    assert r.returncode == 2 and r.stdout == ""
    assert set(json.loads(r.stderr)["errors"]) == {"status", "age"}


def test_ask(store_path):
    r = run("ask", "APL relapse after ATRA plus chemo", store=store_path)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["profile"]["prior_therapy"] == "ATRA+chemo" and answer["options"]
    r = run("ask", "purple elephants", store=store_path)
    assert r.returncode == 2 and json.loads(r.stderr)["unrecognized"] == ["purple", "elephants"]


COHORT = """patient_id,Status,disease,mutations,age,Remission months,prior_therapy,site,symptoms,note
p1,relapsed,AML,IDH1,45,8,,,,first
p2,refractory,,FLT3;IDH2,70,,,,pain;nausea,"has, a comma"
p3,gone,AML,,,,,,,bad status
p4,relapsed,APL,,,4,ATRA+ATO,,,
p5,relapsed,,NPM1,200,,,,,bad age

p6,relapsed,,none,50,12,,cns,,
p7,relapsed,,"IDH1, FLT3",45,8,,,,
"""


def test_annotate(store_path, tmp_path):
    src, out = tmp_path / "cohort.csv", tmp_path / "out.csv"
    src.write_text(COHORT, encoding="utf-8")
    r = run("annotate", str(src), "-o", str(out), store=store_path)
    assert r.returncode == 0, r.stderr
    # bad rows are reported with their line number and do not stop the others
    assert "line 4: status: 'gone' is not one of refractory, relapsed" in r.stderr
    assert "line 6: age: must be between 0 and 130" in r.stderr
    assert "annotated 7 rows (2 with errors" in r.stderr
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["patient_id"] for row in rows] == ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]
    assert list(rows[0])[:10] == ["patient_id", "Status", "disease", "mutations", "age", "Remission months",
                                  "prior_therapy", "site", "symptoms", "note"]
    assert list(rows[0])[10:] == ["options", "strongest_option", "strongest_strength", "strongest_quote",
                                  "advised_against", "sections", "warnings", "error"]
    by_id = {row["patient_id"]: row for row in rows}
    p1 = by_id["p1"]
    assert "ivosidenib" in p1["options"].split("; ") and p1["strongest_option"] == "stem cell transplant"
    assert p1["strongest_strength"] == "advised" and p1["strongest_quote"] in TEXT
    assert "For AML with a mutation in the IDH1 or IDH2 gene" in p1["sections"].split("; ")
    assert p1["advised_against"] == "chemotherapy" and p1["error"] == ""
    assert {"gilteritinib", "enasidenib", "opioid medicine"} <= set(by_id["p2"]["options"].split("; "))
    assert by_id["p2"]["note"] == "has, a comma"
    assert by_id["p3"]["error"].startswith("status:") and by_id["p3"]["options"] == ""
    assert by_id["p5"]["error"] == "age: must be between 0 and 130"
    assert "intrathecal chemotherapy" in by_id["p6"]["options"]
    assert "ivosidenib" not in by_id["p6"]["options"]  # none: tested, no mutation found
    assert {"ivosidenib", "gilteritinib"} <= set(by_id["p7"]["options"].split("; "))


def test_annotate_stdin_stdout_and_tsv(store_path, tmp_path):
    r = run("annotate", "-", store=store_path, stdin="status\tmutations\nrelapsed\tIDH2\n")
    assert r.returncode == 2  # a comma file by default: the tab header names no status column
    r = run("annotate", "-", "--delimiter", "tab", store=store_path, stdin="status\tmutations\nrelapsed\tIDH2\n")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split("\t")[:3] == ["status", "mutations", "options"]
    assert "enasidenib" in row


@pytest.mark.parametrize("content, message", [("", "empty"), ("patient,age\n1,40\n", "no `status` column")])
def test_annotate_unusable_files_exit_2(store_path, tmp_path, content, message):
    src = tmp_path / "c.csv"
    src.write_text(content, encoding="utf-8")
    r = run("annotate", str(src), "-o", str(tmp_path / "o.csv"), store=store_path)
    assert r.returncode == 2 and message in r.stderr


def test_annotate_shows_progress_on_large_files(store_path, tmp_path):
    src = tmp_path / "big.csv"
    src.write_text("status,age\n" + "relapsed,45\nrefractory,70\n" * 6000, encoding="utf-8")
    r = run("annotate", str(src), "-o", str(tmp_path / "o.csv"), store=store_path)
    assert r.returncode == 0, r.stderr
    assert "annotate [" in r.stderr and "12,000/12,000 rows (100%)" in r.stderr


def test_without_store_the_command_takes_the_apps_kg_store(store_path):
    """`--store` left out: KG_STORE as the app reads it (kg_service.config), read when the command runs."""
    import os
    env = {**os.environ, "KG_STORE": store_path}
    r = subprocess.run([sys.executable, "-m", "kg_service", "check-store"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.startswith("ok: "), r.stdout + r.stderr
    env["KG_STORE"] = store_path + "-not-there"
    r = subprocess.run([sys.executable, "-m", "kg_service", "check-store"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 3 and "-not-there" in r.stderr, r.stdout + r.stderr
