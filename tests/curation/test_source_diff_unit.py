"""The pure re-anchoring module on small texts: each anchoring step and each kind of change."""
from __future__ import annotations

import pytest

from kg_service import source_diff as sd

OLD = ("Intro line.\n\nHeading one\n\nThe first option might be drug A for most people. "
       "A second option is drug B, as it can help. Nothing else is said here.\n\n"
       "Heading two\n\nIt doesn\u2019t go away with drug C in some cases.\n")
QUOTES = {"a": "The first option might be drug A for most people.",
          "b": "A second option is drug B, as it can help.",
          "c": "It doesn\u2019t go away with drug C in some cases."}
TERMS = [("drug A", "label"), ("drug B", "label"), ("drug C", "label"), ("drug D", "label"),
         ("one option \u2026 might be", "wording")]


def anchors(text: str = OLD) -> list[sd.Anchor]:
    out = []
    for name, q in QUOTES.items():
        start = text.index(q)
        out.append(sd.Anchor(name, q, text[max(0, start - 32):start], text[start + len(q):start + len(q) + 32],
                             start, start + len(q)))
    return out


def classify(report: sd.Report) -> dict[str, str]:
    out = {}
    for key in ("unchanged", "moved", "missing"):
        out.update({i["recommendation"]: key for i in getattr(report, key)})
    out.update({i["recommendation"]: "changed:" + i["kind"] for i in report.changed})
    return out


def test_unchanged():
    r = sd.diff(anchors(), OLD, TERMS)
    assert classify(r) == {"a": "unchanged", "b": "unchanged", "c": "unchanged"}
    assert r.exit_status == 0 and r.uncovered == []


def test_moved_and_the_occurrence_with_the_best_context_wins():
    # the quote of "a" now also stands at the top, out of context: the one in its old context is chosen
    new = QUOTES["a"] + "\n\n" + OLD.replace("Intro line.", "A longer introduction line.")
    r = sd.diff(anchors(), new, TERMS)
    assert classify(r) == {"a": "moved", "b": "moved", "c": "moved"}
    a = r.moved[0]
    assert a["new_start"] == new.index("Heading one") + len("Heading one\n\n")


def test_typographic_and_whitespace_kinds():
    new = OLD.replace("doesn\u2019t", "doesn't").replace("drug B, as", "drug\u00a0B, as") \
             .replace("for most people", "for\nmost   people")
    r = sd.diff(anchors(), new, TERMS)
    assert classify(r) == {"a": "changed:whitespace", "b": "changed:typographic", "c": "changed:typographic"}
    assert r.exit_status == 1


def test_split_and_wording():
    new = OLD.replace("drug B, as it can help", "drug B. It can help").replace("might be drug A", "is drug A")
    r = sd.diff(anchors(), new, TERMS)
    assert classify(r) == {"a": "changed:wording", "b": "changed:split", "c": "moved"}
    b = next(i for i in r.changed if i["recommendation"] == "b")
    assert b["new"] == "A second option is drug B. It can help."


def test_a_removed_sentence_is_not_anchored_on_its_neighbour():
    new = OLD.replace(" A second option is drug B, as it can help.", "")
    r = sd.diff(anchors(), new, TERMS)
    assert classify(r) == {"a": "unchanged", "b": "missing", "c": "moved"}


def test_uncovered_sentences_hold_a_term_and_no_quote():
    new = OLD.replace("Nothing else is said here.", "One option here might be drug D. Drug A is named again.")
    r = sd.diff(anchors(), new, TERMS)
    assert [(u["text"], u["terms"]) for u in r.uncovered] == [
        ("One option here might be drug D.", ["one option here might be", "drug d"]),
        ("Drug A is named again.", ["drug a"])]


def test_unrelated_text():
    r = sd.diff(anchors(), "Tomatoes need sun. Water them twice a week.\n", TERMS)
    assert classify(r) == {"a": "missing", "b": "missing", "c": "missing"} and r.uncovered == []


def test_shared_quotes_share_their_anchoring():
    two = anchors() + [sd.Anchor("a2", QUOTES["a"], "", "", OLD.index(QUOTES["a"]), OLD.index(QUOTES["a"]) + 49)]
    r = sd.diff(two, OLD.replace("might be drug A", "is drug A"), TERMS)
    assert classify(r)["a"] == classify(r)["a2"] == "changed:wording"


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"), (b" \n", "is empty"), (b"abc\x00def", "binary file (NUL bytes)"),
    (b"caf\xe9", "not UTF-8 text (byte 0xe9 at offset 3)"), (b"\x01\x02\x03\x04" * 10, "binary file (control"),
    ("Hello.".encode("utf-16"), "is UTF-16 text: save it as UTF-8"),
])
def test_read_revision_refuses(tmp_path, content, message):
    p = tmp_path / "r.txt"
    p.write_bytes(content)
    with pytest.raises(sd.BadRevision, match=r"^r\.txt .*" + message.replace("(", r"\(").replace(")", r"\)")):
        sd.read_revision(p)


def test_read_revision_accepts_a_bom(tmp_path):
    p = tmp_path / "r.txt"
    p.write_bytes(b"\xef\xbb\xbfHello.")
    assert sd.read_revision(p) == "Hello."


def test_windows_and_old_mac_line_ends_are_read_as_the_build_reads_them(tmp_path):
    """Saved with CRLF (or CR) line ends, the same text anchors every quote unchanged at the positions
    the build computes (it reads sources with universal newlines)."""
    for ending in ("\r\n", "\r"):
        p = tmp_path / "r.txt"
        p.write_bytes(OLD.replace("\n", ending).encode("utf-8"))
        text = sd.read_revision(p)
        assert text == OLD
        assert set(classify(sd.diff(anchors(), text, TERMS)).values()) == {"unchanged"}


def test_sentences_and_word_diff():
    text = "Title\n\nOne (see \u201cthat.\u201d) Two.\nThree!"
    assert [text[s:e] for s, e in sd.sentence_spans(text)] == ["Title", "One (see \u201cthat.\u201d)", "Two.", "Three!"]
    assert sd.word_diff("a b c", "a c d")[0] == [{"op": "delete", "old": "b", "new": ""},
                                                 {"op": "insert", "old": "", "new": "d"}]


def test_layering():
    """The pure module needs neither the store nor the build; the build needs neither comparison module."""
    import subprocess
    import sys
    code = ("import sys, kg_service.source_diff; "
            "assert not [m for m in sys.modules if m.startswith(('kg_service.store', 'loaders', 'pyoxigraph'))]; "
            "import loaders.build; "
            "assert 'kg_service.release_notes' not in sys.modules and 'kg_service.cli' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
