"""Quotes placed in their section of the source document (kg_service.ui.source_text)."""
from __future__ import annotations

import hashlib

import yaml

from kg_service.ui import source_text
from tests.conftest import ROOT, SOURCE_TEXT

TEXT = SOURCE_TEXT.read_text(encoding="utf-8")
CURATED = yaml.safe_load((ROOT / "loaders" / "data" / "acs-recommendations.yaml").read_text(encoding="utf-8"))
HEADINGS = [s["heading"] for s in CURATED["sections"]]
SHA = hashlib.sha256(SOURCE_TEXT.read_bytes()).hexdigest()


def test_every_curated_quote_is_marked_once_in_its_own_section():
    sections = {s["id"]: s["heading"] for s in CURATED["sections"]}
    for rec in CURATED["recommendations"]:
        start = TEXT.index(rec["quote"])
        p = source_text.passage(TEXT, HEADINGS, start, start + len(rec["quote"]))
        assert p.heading == sections[rec["section"]], rec["id"]
        marked = [t for para in p.paragraphs for t, m in para if m]
        assert "".join(marked) == rec["quote"], rec["id"]
        assert any(m for _t, m in p.paragraphs[p.focus])
        assert not any(h in t for para in p.paragraphs for t, _m in para for h in HEADINGS if h != "")


def test_the_text_is_used_only_when_it_is_the_one_the_graph_was_built_from():
    assert source_text.load_text(SOURCE_TEXT.name, SHA) == TEXT
    assert source_text.load_text(SOURCE_TEXT.name, "0" * 64) is None
    assert source_text.load_text("no-such-file.txt") is None
    assert source_text.load_text("../sources.yaml") is None


def test_without_the_text_the_quote_keeps_its_recorded_context():
    p = source_text.context_passage("H", "exact words", "before ", " after")
    assert p.paragraphs == [[("\u2026before ", False), ("exact words", True), (" after\u2026", False)]]
    assert not p.from_file


def test_a_moved_quote_is_found_again_by_its_context():
    text = "one two. one two. three"
    assert source_text.locate(text, "one two.", 3, 11, prefix="one two. ", suffix=" three") == (9, 17)
    assert source_text.locate(text, "one two.", 0, 8) == (0, 8)   # the recorded positions, while they hold
    assert source_text.locate(text, "missing", None, None) is None
