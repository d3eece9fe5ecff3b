"""A quote in its place: the section of the source document it stands in, with the quote marked.

Functions over the document text (no store, no Flask). The text comes from the file the graph names
(`amlkg:sourceFile`, checked against `amlkg:sha256`); when it is missing or changed, the quote is
shown with its W3C Web Annotation context (`oa:prefix` / `oa:suffix`) instead.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "loaders" / "data"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class Passage:
    """A section of text as paragraphs of (text, marked) runs; `focus` is the paragraph holding the quote."""
    heading: str
    paragraphs: list[list[tuple[str, bool]]] = field(default_factory=list)
    focus: int = 0
    from_file: bool = True


@lru_cache(maxsize=16)
def load_text(name: str, sha256: str | None = None) -> str | None:
    """The document text from `loaders/data/<name>`, or None when it is absent or not the one the graph was built from.

    >>> load_text("../../etc/passwd") is None
    True
    """
    if not name or not _SAFE_NAME.match(name):
        return None
    path = DATA_DIR / name
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data.decode("utf-8")


def section_span(text: str, headings: list[str], position: int) -> tuple[str, int, int]:
    """(heading, start, end) of the section holding `position`: from its heading line to the next one.

    >>> t = "Intro\\n\\nA\\n\\nOne. Two.\\n\\nB\\n\\nThree."
    >>> section_span(t, ["A", "B"], t.index("Two"))
    ('A', 8, 21)
    """
    starts = []
    for heading in headings:
        m = re.search(r"(?m)^%s[ \t]*$" % re.escape(heading), text)
        if m:
            starts.append((m.start(), m.end(), heading))
    starts.sort()
    current = ("", 0, len(text))
    for i, (hstart, hend, heading) in enumerate(starts):
        if hstart <= position:
            nxt = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            current = (heading, hend, nxt)
    return current


def passage(text: str, headings: list[str], start: int, end: int) -> Passage:
    """The section around text[start:end] split into paragraphs, the quoted characters marked.

    >>> t = "A\\n\\nOne. Two.\\n\\nThree.\\n\\nB\\n\\nFour."
    >>> p = passage(t, ["A", "B"], t.index("Two."), t.index("Two.") + 4)
    >>> p.heading, p.focus, p.paragraphs
    ('A', 0, [[('One. ', False), ('Two.', True)], [('Three.', False)]])
    """
    heading, s_start, s_end = section_span(text, headings, start)
    out = Passage(heading)
    pos = s_start
    for block in re.split(r"(\n\s*\n)", text[s_start:s_end]):
        b_start, b_end = pos, pos + len(block)
        pos = b_end
        if not block.strip():
            continue
        lead = len(block) - len(block.lstrip())
        b_start += lead
        block = block.strip()
        b_end = b_start + len(block)
        if b_end <= start or b_start >= end:
            out.paragraphs.append([(block, False)])
            continue
        a, b = max(start, b_start) - b_start, min(end, b_end) - b_start
        runs = [(block[:a], False), (block[a:b], True), (block[b:], False)]
        if not any(m for para in out.paragraphs for _t, m in para):
            out.focus = len(out.paragraphs)
        out.paragraphs.append([r for r in runs if r[0]])
    return out


def locate(text: str, exact: str, start: int | None, end: int | None, prefix: str = "", suffix: str = "") -> tuple[int, int] | None:
    """Where the quote is: the recorded positions when they still hold, else the prefix/exact/suffix match.

    >>> locate("a b c b d", "b", None, None, prefix="c ", suffix="")
    (6, 7)
    """
    if start is not None and end is not None and text[start:end] == exact:
        return start, end
    if prefix or suffix:
        i = text.find(prefix + exact + suffix)
        if i >= 0:
            return i + len(prefix), i + len(prefix) + len(exact)
    i = text.find(exact)
    return (i, i + len(exact)) if i >= 0 else None


def context_passage(heading: str, exact: str, prefix: str = "", suffix: str = "") -> Passage:
    """The fallback when the text is unavailable: the quote with its recorded context.

    >>> context_passage("H", "Two.", "One. ", " Three").paragraphs
    [[('\u2026One. ', False), ('Two.', True), (' Three\u2026', False)]]
    """
    runs = []
    if prefix:
        runs.append(("\u2026" + prefix, False))
    runs.append((exact, True))
    if suffix:
        runs.append((suffix + "\u2026", False))
    return Passage(heading, [runs], 0, from_file=False)
