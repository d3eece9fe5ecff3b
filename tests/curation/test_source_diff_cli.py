"""`python -m kg_service source-diff` through the real command line on the real built store: one
revision per kind of edit, each asserting the exact classification of all 34 recommendations."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kg_service.named_queries import QUERIES_DIR, load_query
from tests.conftest import ROOT
from tests.curation import revisions as rv


def source_diff(store_path: str, path: Path, fmt: str = "json") -> tuple[int, dict | str, str]:
    r = subprocess.run([sys.executable, "-m", "kg_service", "source-diff", str(path), "--store", store_path,
                        "--format", fmt], cwd=ROOT, capture_output=True, timeout=120)
    out = r.stdout.decode("utf-8")
    return r.returncode, (json.loads(out) if fmt == "json" and out else out), r.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def quotes(store) -> dict[str, str]:
    """Recommendation IRI -> its quote, as the built graph holds them."""
    rows = store.select(load_query(QUERIES_DIR / "quote-anchors.rq").text)
    assert len(rows) == 34
    return {str(r["recommendation"]): str(r["exact"]) for r in rows}


@pytest.fixture()
def run(store_path, tmp_path):
    def run_on(text: str | bytes, fmt: str = "json"):
        path = tmp_path / "revision.txt"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return source_diff(store_path, path, fmt)
    return run_on


def ids(items) -> set[str]:
    return {i["recommendation"] for i in items}


def rec(name: str) -> str:
    return "https://w3id.org/amlkg/acs2022-" + name


def assert_standing(report: dict, quotes: dict, text: str, changed: set = frozenset(), missing: set = frozenset()):
    """Every recommendation not expected to change is unchanged (same place) or moved (found elsewhere, at
    the new position given), and the lists partition the 34."""
    rest = set(quotes) - changed - missing
    assert ids(report["changed"]) == changed
    assert ids(report["missing"]) == missing
    assert ids(report["unchanged"]) | ids(report["moved"]) == rest
    assert not ids(report["unchanged"]) & ids(report["moved"])
    original = rv.ORIGINAL
    for item in report["unchanged"]:
        q = quotes[item["recommendation"]]
        assert text[item["start"]:item["end"]] == q == original[item["start"]:item["end"]]
    for item in report["moved"]:
        q = quotes[item["recommendation"]]
        assert text[item["new_start"]:item["new_end"]] == q and item["new_start"] != item["old_start"]
        assert original[item["old_start"]:item["old_end"]] == q


def test_an_unchanged_copy(run, quotes):
    code, report, err = run(rv.unchanged())
    assert code == 0, err
    assert set(report) == {"unchanged", "moved", "changed", "missing", "uncovered"}
    assert ids(report["unchanged"]) == set(quotes) and not report["moved"]
    # the sentences the curators left out on purpose stood in the graph's own revision: not new, not listed
    assert report["uncovered"] == []


def test_without_the_previous_revision_the_unmodelled_sentences_are_uncovered(store):
    """Where the graph's own revision is not at hand, every treatment sentence no quote covers is listed:
    on the unchanged text, exactly the ones the curated data leaves out on purpose."""
    from kg_service import source_diff as sd
    rows = store.select(load_query(QUERIES_DIR / "quote-anchors.rq").text)
    anchors = [sd.Anchor(str(r["recommendation"]), str(r["exact"]), str(r["prefix"]), str(r["suffix"]),
                         int(r["start"]), int(r["end"])) for r in rows]
    terms = [(str(r["term"]), str(r["kind"])) for r in store.select(load_query(QUERIES_DIR / "treatment-wordings.rq").text)]
    report = sd.diff(anchors, rv.ORIGINAL, terms)
    assert [u["text"] for u in report.uncovered] == rv.UNMODELLED
    assert sd.diff(anchors, rv.ORIGINAL, terms, previous=rv.ORIGINAL).uncovered == []


def test_reordered_sections_are_moved(run, quotes):
    text = rv.reordered()
    code, report, _ = run(text)
    assert code == 0
    assert_standing(report, quotes, text)
    assert ids(report["moved"]) == {rec(n) for n in ("flt3-gilteritinib", "idh1-ivosidenib", "idh1-olutasidenib",
                                                       "idh2-enasidenib", "idh-chemo", "idh-transplant")}


def test_typographic_changes_are_their_own_kind(run, quotes):
    text = rv.typographic()
    code, report, _ = run(text)
    assert code == 1
    expected = {r for r, q in quotes.items() if q not in text}
    assert rec("refractory-transplant") in expected and rec("apl-early-relapse-chemo") in expected  # nbsp, hyphen
    assert len(expected) == 11
    assert_standing(report, quotes, text, changed=expected)
    for item in report["changed"]:
        assert item["kind"] == "typographic"
        assert text[item["new_start"]:item["new_end"]] == item["new"]
        assert item["old"] == quotes[item["recommendation"]] and item["similarity"] >= 0.95
    gem = next(i for i in report["changed"] if i["recommendation"] == rec("gemtuzumab-ozogamicin"))
    assert gem["diff"] == [{"op": "replace", "old": "doesn\u2019t", "new": "doesn't"}]


def test_reflowed_whitespace_is_recognised(run, quotes):
    text = rv.reflowed()
    code, report, _ = run(text)
    assert code == 1
    expected = {r for r, q in quotes.items() if q not in text}
    assert len(expected) >= 20  # most quotes now hold a line break
    assert_standing(report, quotes, text, changed=expected)
    assert {i["kind"] for i in report["changed"]} == {"whitespace"}
    for item in report["changed"]:
        assert item["new"].split() == item["old"].split() or "".join(item["new"].split()) == "".join(item["old"].split())


def test_a_sentence_split_in_two(run, quotes):
    text = rv.split()
    code, report, _ = run(text)
    assert code == 1
    assert_standing(report, quotes, text, changed={rec("refractory-transplant")})
    [item] = report["changed"]
    assert item["kind"] == "split" and item["new"] == rv.SPLIT_NEW and item["old"] == rv.SPLIT_OLD
    assert 0.9 < item["similarity"] < 1
    assert item["diff"] == [{"op": "replace", "old": "people, as it", "new": "people. It"}]
    assert report["uncovered"] == []  # neither half is uncovered


def test_sentences_merged_and_a_clause_inserted(run, quotes):
    text = rv.merged()
    code, report, _ = run(text)
    assert code == 1
    assert_standing(report, quotes, text, changed={rec("refractory-transplant"), rec("refractory-clinical-trial"),
                                                   rec("early-relapse-transplant-younger")})
    kinds = {i["recommendation"]: (i["kind"], i["new"]) for i in report["changed"]}
    assert kinds[rec("refractory-transplant")] == (
        "merged", "A stem cell transplant may be an option for some people, as it can allow higher doses of chemo to be used,")
    assert kinds[rec("refractory-clinical-trial")] == (
        "merged", "clinical trials of new treatment approaches may also be an option.")
    clause = next(i for i in report["changed"] if i["recommendation"] == rec("early-relapse-transplant-younger"))
    assert clause["kind"] == "wording" and clause["diff"] == [
        {"op": "replace", "old": "months,", "new": "months (and the patient is otherwise well),"}]


def test_a_reworded_hedge(run, quotes):
    text = rv.hedge()
    code, report, _ = run(text)
    assert code == 1
    assert_standing(report, quotes, text, changed={rec("flt3-gilteritinib")})
    [item] = report["changed"]
    assert item["kind"] == "wording"
    assert item["diff"] == [{"op": "replace", "old": "might be", "new": "is"}]
    assert "[-might be-] {+is+}" in item["diff_text"]
    assert item["new"] == quotes[rec("flt3-gilteritinib")].replace(rv.HEDGE_OLD, rv.HEDGE_NEW)


def test_a_removed_sentence_is_missing(run, quotes):
    text = rv.removed()
    code, report, _ = run(text)
    assert code == 1
    assert_standing(report, quotes, text, missing={rec("early-relapse-clinical-trial")})
    assert report["missing"][0]["old"] == rv.REMOVED


def test_a_new_section_with_a_new_drug_is_uncovered(run, quotes):
    text = rv.new_section()
    code, report, _ = run(text)
    assert code == 0
    assert_standing(report, quotes, text)
    new = report["uncovered"]
    assert [u["text"] for u in new] == [rv.NEW_SENTENCE]
    assert {"revumenib", "revuforj", "menin inhibitor", "one option might be"} <= set(new[0]["terms"])
    assert text[new[0]["start"]:new[0]["end"]] == rv.NEW_SENTENCE


def test_an_unrelated_text_leaves_everything_missing(run, quotes):
    code, report, err = run(rv.unrelated())
    assert code == 1 and "Traceback" not in err
    assert ids(report["missing"]) == set(quotes)
    assert not report["unchanged"] and not report["moved"] and not report["changed"] and not report["uncovered"]


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("Treatment for most types of AML: caf\u00e9".encode("latin-1"), "not UTF-8"),
    (b"", "empty"),
    (b"  \n\n\t ", "empty"),
], ids=["binary", "latin-1", "empty", "blank"])
def test_bad_input_is_exit_2_with_one_line(run, content, reason):
    code, out, err = run(content)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: revision.txt ") and reason in err


def test_a_missing_file_and_a_missing_store_are_exit_2(store_path, tmp_path):
    code, _, err = source_diff(store_path, tmp_path / "nope.txt")
    assert code == 2 and err.count("\n") == 1 and "cannot be read" in err
    path = tmp_path / "r.txt"
    path.write_text(rv.ORIGINAL, encoding="utf-8")
    code, _, err = source_diff(str(tmp_path / "no-store"), path)
    assert code == 2 and err.count("\n") == 1 and "no built store" in err


def test_the_table_format(run):
    code, out, _ = run(rv.hedge(), "table")
    assert code == 1
    assert "changed    acs2022-flt3-gilteritinib  wording, similarity 0.9" in out
    assert out.rstrip().endswith("13 unchanged, 20 moved, 1 changed, 0 missing, 0 uncovered sentences")


def test_ten_megabytes(run, quotes):
    """A 10 MB revision is classified as its first copy (the time is measured in benchmarks/)."""
    text = rv.ten_megabytes()
    assert len(text.encode("utf-8")) >= 10_000_000
    code, report, _ = run(text)
    assert code == 1
    assert ids(report["changed"]) == {rec("flt3-gilteritinib")} and not report["missing"] and not report["uncovered"]
    assert ids(report["unchanged"]) | ids(report["moved"]) == set(quotes) - {rec("flt3-gilteritinib")}
    assert all(item["new_start"] < len(rv.hedge()) for item in report["moved"])  # in the first copy
