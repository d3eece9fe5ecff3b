"""The curator's path: revisions of the document in sources.yaml, the revision each quote is checked in,
the release manifest of every build, and `python -m kg_service changes` between two real builds."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kg_service.named_queries import QUERIES_DIR, load_query
from kg_service.store import open_store
from loaders.build import BuildError, build
from tests.conftest import ROOT
from tests.curation import revisions as rv

NEW_REVISION = "2026-06-01"
GILTERITINIB = "https://w3id.org/amlkg/acs2022-flt3-gilteritinib"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_revision(project: Path, text: str, date: str = NEW_REVISION) -> None:
    """The curator's first step: the new revision as one more file of the source, with its date."""
    name = "acs-aml-refractory-relapsed-%s.txt" % date
    (project / "loaders" / "data" / name).write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    edit(project / "loaders" / "sources.yaml", "      recommendations: {path: data/acs-recommendations.yaml}",
         "      text-%s: {path: data/%s, sha256: %s, revised: %s}\n"
         "      recommendations: {path: data/acs-recommendations.yaml}" % (date, name, digest, date))


def hedge_the_gilteritinib_quote(project: Path, revision: str | None) -> None:
    recs = project / "loaders" / "data" / "acs-recommendations.yaml"
    old = "one option might be treatment with the FLT3 inhibitor gilteritinib"
    edit(recs, old, "one option is treatment with the FLT3 inhibitor gilteritinib")
    if revision:
        edit(recs, "  - id: flt3-gilteritinib\n", "  - id: flt3-gilteritinib\n    revision: %s\n" % revision)


def quiet(*_a):
    pass


def anchors(store_path: str) -> dict[str, dict]:
    with open_store(store_path) as s:
        return {str(r["recommendation"]): r for r in s.select(load_query(QUERIES_DIR / "quote-anchors.rq").text)}


def test_every_recommendation_records_its_revision(store):
    rows = store.select(load_query(QUERIES_DIR / "quote-anchors.rq").text)
    assert len(rows) == 34 and {str(r["revision"]) for r in rows} == {"2022-12-01"}


def test_a_quote_not_in_its_declared_revision_is_refused(project, tmp_path):
    add_revision(project, rv.hedge())
    hedge_the_gilteritinib_quote(project, revision=None)  # the new words, but anchored in the default revision
    with pytest.raises(BuildError, match=r"flt3-gilteritinib.*not an exact substring of the document's revision 2022-12-01"):
        build(str(tmp_path / "store"), release_dir=None, log=quiet)
    assert not (tmp_path / "store" / "current").exists()


def test_a_record_anchored_in_the_new_revision_builds(project, tmp_path):
    add_revision(project, rv.hedge())
    hedge_the_gilteritinib_quote(project, revision=NEW_REVISION)
    build(str(tmp_path / "store"), release_dir=None, log=quiet)
    rows = anchors(str(tmp_path / "store"))
    assert str(rows[GILTERITINIB]["revision"]) == NEW_REVISION
    assert {str(r["revision"]) for k, r in rows.items() if k != GILTERITINIB} == {"2022-12-01"}
    start, end = int(rows[GILTERITINIB]["start"]), int(rows[GILTERITINIB]["end"])
    assert rv.hedge()[start:end] == str(rows[GILTERITINIB]["exact"])  # positions count in its revision


def test_an_unknown_revision_or_a_default_without_its_file_is_refused(project, tmp_path):
    recs = project / "loaders" / "data" / "acs-recommendations.yaml"
    edit(recs, "  - id: flt3-gilteritinib\n", "  - id: flt3-gilteritinib\n    revision: 2030-01-01\n")
    with pytest.raises(BuildError, match=r"revision 2030-01-01 is not a revision of the document listed in sources.yaml"):
        build(str(tmp_path / "store"), release_dir=None, log=quiet)
    edit(project / "loaders" / "sources.yaml", "    revised: 2022-12-01\n", "    revised: 2024-01-01\n")
    with pytest.raises(BuildError, match=r"revised 2024-01-01 is the revision of none of its files"):
        build(str(tmp_path / "store"), release_dir=None, log=quiet)


def test_the_default_revision_comes_from_sources_yaml(project, tmp_path):
    """Moving the source's default to the new revision re-checks every quote there: the one quote that
    changed now needs its new words."""
    add_revision(project, rv.hedge())
    edit(project / "loaders" / "sources.yaml", "    revised: 2022-12-01\n", "    revised: %s\n" % NEW_REVISION)
    with pytest.raises(BuildError, match=r"flt3-gilteritinib.*revision %s" % NEW_REVISION):
        build(str(tmp_path / "store"), release_dir=None, log=quiet)
    hedge_the_gilteritinib_quote(project, revision=None)
    build(str(tmp_path / "store"), release_dir=None, log=quiet)
    assert {str(r["revision"]) for r in anchors(str(tmp_path / "store")).values()} == {NEW_REVISION}


def test_every_build_writes_its_release_manifest(store_path):
    release = Path(store_path).parent / "release"
    manifest = json.loads((release / "release-manifest.json").read_text(encoding="utf-8"))
    kept = json.loads((Path(store_path) / "current" / "release-manifest.json").read_text(encoding="utf-8"))
    with open_store(store_path) as s:
        assert manifest["graph_version"] == kept["graph_version"] == s.graph_version()
    acs = next(src for src in manifest["sources"] if src["id"] == "acs2022")
    assert acs["revised"] == "2022-12-01"
    text = next(f for f in acs["files"] if f["name"] == "text")
    assert text["revised"] == "2022-12-01"
    assert text["sha256"] == hashlib.sha256(rv.SOURCE_TEXT.read_bytes()).hexdigest()
    assert manifest["graphs"]["https://w3id.org/amlkg/graph/acs2022"] > 1000


def changes(a: str, b: str, fmt: str = "json"):
    r = subprocess.run([sys.executable, "-m", "kg_service", "changes", a, b, "--format", fmt], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, (json.loads(r.stdout) if fmt == "json" and r.returncode == 0 else r.stdout), r.stderr


def test_changes_between_two_real_builds(project, tmp_path, store_path):
    """The curated data edited the way a curator would after `source-diff` (the reworded hedge anchored
    in a new revision, one record removed, one added, one wording corrected), built into another store."""
    add_revision(project, rv.hedge())
    hedge_the_gilteritinib_quote(project, revision=NEW_REVISION)
    recs = project / "loaders" / "data" / "acs-recommendations.yaml"
    text = recs.read_text(encoding="utf-8")
    start = text.index("  - id: infection-antibiotics\n")
    end = text.find("\n  - id:", start + 10)
    removed = text[start:] if end < 0 else text[start:end + 1]
    recs.write_text(text.replace(removed, ""), encoding="utf-8")
    edit(recs, "  - id: apl-clinical-trial\n", "  - id: apl-trial-again\n    section: apl\n"
         "    quote: \"Another option might be taking part in a clinical trial.\"\n    recommends: ClinicalTrial\n"
         "    strength: option\n    wording: \"another option might be\"\n    when: {disease: APL}\n\n"
         "  - id: apl-clinical-trial\n")
    edit(recs, 'wording: "may be tried"', 'wording: "may be tried, if the person can tolerate them"')
    new_store, new_release = tmp_path / "store", tmp_path / "release"
    build(str(new_store), release_dir=str(new_release), log=quiet)
    old_release = Path(store_path).parent / "release"

    for a, b in ((store_path, str(new_store)), (str(old_release), str(new_release)),
                 (str(old_release / "amlkg.nq"), str(new_release / "amlkg.nq"))):
        code, notes, err = changes(a, b)
        assert code == 0, err
        recs_ = notes["recommendations"]
        assert [r["recommendation"] for r in recs_["added"]] == ["https://w3id.org/amlkg/acs2022-apl-trial-again"]
        assert [r["recommendation"] for r in recs_["removed"]] == ["https://w3id.org/amlkg/acs2022-infection-antibiotics"]
        changed = {c["recommendation"]: c["changes"] for c in recs_["changed"]}
        assert set(changed) == {GILTERITINIB, "https://w3id.org/amlkg/acs2022-refractory-intensified-chemo"}
        assert set(changed[GILTERITINIB]) == {"quote", "revision"}
        assert changed[GILTERITINIB]["revision"] == {"old": "2022-12-01", "new": NEW_REVISION}
        assert "one option is treatment" in changed[GILTERITINIB]["quote"]["new"]
        acs = notes["graphs"]["https://w3id.org/amlkg/graph/acs2022"]
        assert acs["added"] and acs["removed"]
        assert any("infection-antibiotics" in t for t in acs["removed"])
        assert notes["graphs"]["https://w3id.org/amlkg/graph/ontology"] == {"added": [], "removed": []}
        assert notes["from"]["graph_version"] != notes["to"]["graph_version"]
        [source] = [s for s in notes["sources"] if s["file"].endswith("%s.txt" % NEW_REVISION)]
        assert source["new"]["revised"] == NEW_REVISION and not source["old"]

    code, md, _ = changes(store_path, str(new_store), "markdown")
    assert code == 0 and md.startswith("# Changes from ")
    assert "1 added, 1 removed, 2 changed" in md
    assert "| https://w3id.org/amlkg/graph/ontology | 0 | 0 |" in md
    assert "  - revision: “2022-12-01” → “%s”" % NEW_REVISION in md


def test_changes_between_two_versions_a_store_keeps(project, tmp_path):
    store = tmp_path / "store"
    first = build(str(store), release_dir=None, log=quiet)
    hedge_the_gilteritinib_quote(project, revision=NEW_REVISION)
    add_revision(project, rv.hedge())
    second = build(str(store), release_dir=None, log=quiet)
    code, notes, err = changes("%s@%s" % (store, first[:16]), "%s@%s" % (store, second[:16]))
    assert code == 0, err
    assert [c["recommendation"] for c in notes["recommendations"]["changed"]] == [GILTERITINIB]
    assert notes["from"]["graph_version"] == first and notes["to"]["graph_version"] == second
    code, notes, _ = changes("%s@%s" % (store, first[:16]), str(store))  # the current version
    assert notes["to"]["graph_version"] == second


def test_changes_refuses_what_is_not_a_build(tmp_path, store_path):
    code, out, err = changes(str(tmp_path), store_path)
    assert code == 2 and err.count("\n") == 1 and "neither a store" in err
    code, out, err = changes("%s@ffff" % store_path, store_path)
    assert code == 2 and err.count("\n") == 1 and "keeps no version 'ffff'" in err
