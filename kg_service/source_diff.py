"""Re-anchor the recommendations' quotes in a new revision of their document, and say what changed.

Pure functions over text: the caller reads the W3C Web Annotation selectors of every recommendation
from the store (`queries/quote-anchors.rq`) and the treatment wordings (`queries/treatment-wordings.rq`),
and hands them here with the new revision's text. Nothing here imports the store, Flask or the build.

A quote is re-anchored the way Web Annotation clients do (Hypothesis' text-quote anchoring):

1. the exact quote at its recorded position: ``unchanged``;
2. the exact quote elsewhere (the occurrence whose prefix/suffix context fits best): ``moved``;
3. the quote with typographic variants (curly or straight apostrophes and quotes, dashes, no-break
   spaces) and any run of whitespace allowed: ``changed`` of kind ``typographic`` or ``whitespace``,
   never missing — the build checks quotes character for character, so the curator must still act;
4. the text between the quote's prefix and suffix context, and the sentences (one to three in a row)
   most similar to the quote (rapidfuzz), scored like Hypothesis does (quote similarity first, then
   context, then position), or the part of a longer sentence most like it: ``changed`` of kind
   ``wording``, ``split`` (now two sentences or more) or ``merged`` (now part of a longer sentence) when
   the similarity reaches `CHANGED_AT`;
5. else ``missing``.

A span of the new text anchors at most one distinct quote (recommendations sharing one quote share
its span), so a removed sentence is not re-anchored onto its neighbour. ``uncovered`` lists the new
text's sentences that read as treatment statements (they hold one of the graph's strength wordings,
treatment names or brand names) and that no recommendation quotes.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

#: a fuzzy or context match below this similarity (0-1) leaves the quote `missing`
CHANGED_AT = 0.75
#: consecutive sentences a fuzzy candidate may span (a quote split into two or three sentences)
MAX_WINDOW = 3
#: sentences most like a quote that seed its fuzzy candidates, and the least similarity (0-100) of a
#: seed: half of a quote split in two is about 67 like the whole
CANDIDATES = 8
SEED_AT = 50

# one character for another, so positions are kept: the typographic variants a revision may use
_TYPOGRAPHIC = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ", "\u200a": " ", "\u2002": " ", "\u2003": " ",
})
_TYPOGRAPHIC_CHARS = re.compile("[%s]" % "".join(chr(c) for c in _TYPOGRAPHIC))


def plain_typography(text: str) -> str:
    """`text` with its typographic variants made plain, one character for one (positions are kept);
    only the few characters found are replaced, so a text of megabytes costs one scan.

    >>> print(plain_typography("it\u2019s \u201cso\u201d"))
    it's "so"
    """
    return _TYPOGRAPHIC_CHARS.sub(lambda m: m.group().translate(_TYPOGRAPHIC), text)


# the same variants as regular-expression classes, for finding a quote whatever its typography
_LOOSE_CLASSES = {
    "'": "['\u2018\u2019\u201a\u201b\u2032\u02bc]",
    '"': "[\"\u201c\u201d\u201e\u201f\u2033]",
    "-": "[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212]",
}
# a sentence ends after . ! or ? (and any closing quote or bracket) before whitespace, or at a blank line
_SENTENCE_END = re.compile(r"(?:[.!?]['\"\u2019\u201d)\]]*(?=\s)|\n[ \t\u00a0\r\f\v]*\n)\s*")
_NONSPACE = re.compile(r"\S")
_WORDS = re.compile(r"\S+")
_WORD_TAIL = re.compile(r"\w*\Z")  # the part of a word before a position (searched in text[start:a])
_WORD_HEAD = re.compile(r"[\w.!?]*")  # the rest of a word after a position, with a sentence's end
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class BadRevision(ValueError):
    """The new revision cannot be read as text; the message is one line naming the file and why."""


@dataclass(frozen=True)
class Anchor:
    """One recommendation's quote as the graph records it (W3C Web Annotation selectors)."""
    recommendation: str
    exact: str
    prefix: str = ""
    suffix: str = ""
    start: int = -1
    end: int = -1


@dataclass
class _Match:
    start: int
    end: int
    how: str  # position | elsewhere | loose | context | fuzzy
    similarity: float = 1.0


@dataclass
class Report:
    unchanged: list = field(default_factory=list)
    moved: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    uncovered: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"unchanged": self.unchanged, "moved": self.moved, "changed": self.changed,
                "missing": self.missing, "uncovered": self.uncovered}

    @property
    def exit_status(self) -> int:
        """0 when every quote stands word for word (unchanged or moved), else 1."""
        return 1 if self.changed or self.missing else 0


def read_revision(path: str | Path) -> str:
    """The text of a revision file, or BadRevision (one line) for an empty, binary or non-UTF-8 file.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "x.txt")
    ...     _ = open(p, "wb").write(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00")
    ...     read_revision(p)
    Traceback (most recent call last):
    ...
    kg_service.source_diff.BadRevision: x.txt is a binary file (NUL bytes), not a text revision
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise BadRevision("%s is a directory, not a text revision" % path.name) from None
    except OSError as e:
        raise BadRevision("%s cannot be read (%s)" % (path.name, e.strerror or e)) from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise BadRevision("%s is UTF-16 text: save it as UTF-8 to compare it" % path.name)
    if b"\x00" in data:
        raise BadRevision("%s is a binary file (NUL bytes), not a text revision" % path.name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadRevision("%s is not UTF-8 text (byte 0x%02x at offset %d)"
                          % (path.name, data[e.start], e.start)) from None
    # line ends as the build reads a source (universal newlines): positions then agree with its selectors
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadRevision("%s is empty: no text to anchor the quotes in" % path.name)
    controls = sum(1 for c in text[:65536] if ord(c) < 32 and c not in "\t\n\r\f\v")
    if controls > len(text[:65536]) // 100:
        raise BadRevision("%s is a binary file (control characters), not a text revision" % path.name)
    return text


def normalise(text: str) -> str:
    """Typographic variants made plain and whitespace runs made one space: what comparison sees.

    >>> normalise("doesn\u2019t\u00a0go \\n away \u2014 now")
    "doesn't go away - now"
    """
    return " ".join(plain_typography(text).split())


def loose_pattern(text: str) -> re.Pattern:
    """A pattern finding `text` whatever its typographic variants and whitespace (never empty runs).

    >>> bool(loose_pattern("isn't  it\u00a0so").search("isn\u2019t\\n it so"))
    True
    """
    parts = []
    for word in normalise(text).split(" "):
        # a line may now break after a hyphen ("all-\ntrans"): whitespace is allowed there too
        parts.append("".join(_LOOSE_CLASSES.get(c, re.escape(c)) + (r"\s*" if c == "-" else "") for c in word))
    return re.compile(r"\s+".join(parts))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence: it ends at . ! or ? (and a closing quote or bracket) before
    whitespace, or at a blank line. One regular-expression scan, for texts of megabytes.

    >>> t = "  Heading \\n\\nOne is here. Two\\nwraps. Three?"
    >>> [t[s:e] for s, e in sentence_spans(t)]
    ['Heading', 'One is here.', 'Two\\nwraps.', 'Three?']
    """
    spans = []
    first = _NONSPACE.search(text)
    if not first:
        return spans
    start = first.start()
    for m in _SENTENCE_END.finditer(text, start):  # each match runs to the next sentence's first character
        if m.group()[0] in ".!?":
            end = m.start() + len(m.group().rstrip())
        else:
            end = start + len(text[start:m.start()].rstrip())
        if end > start:
            spans.append((start, end))
        start = m.end()
    end = start + len(text[start:].rstrip())
    if end > start:
        spans.append((start, end))
    return spans


def word_diff(old: str, new: str) -> tuple[list[dict], str]:
    """The word-level edits turning `old` into `new` (rapidfuzz opcodes over words), and the same as
    one wdiff-style line: removed words in [-…-], added ones in {+…+}.

    >>> word_diff("one option might be this", "one option is this")
    ([{'op': 'replace', 'old': 'might be', 'new': 'is'}], 'one option [-might be-] {+is+} this')
    """
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    runs: list[list] = []  # [equal?, src_start, src_end, dest_start, dest_end]; adjacent edits joined
    for op in Indel.opcodes(a, b):  # longest common subsequence of words: common words are kept
        equal = op.tag == "equal"
        if runs and not equal and not runs[-1][0]:
            runs[-1][2], runs[-1][4] = op.src_end, op.dest_end
        else:
            runs.append([equal, op.src_start, op.src_end, op.dest_start, op.dest_end])
    edits, line = [], []
    for equal, i1, i2, j1, j2 in runs:
        removed, added = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if equal:
            line.append(removed)
            continue
        edits.append({"op": "replace" if removed and added else "delete" if removed else "insert",
                      "old": removed, "new": added})
        line.extend(x for x in ("[-%s-]" % removed if removed else "", "{+%s+}" % added if added else "") if x)
    return edits, " ".join(line)


def _similarity(a: str, b: str) -> float:
    return fuzz.ratio(a, b) / 100.0


class _Revision:
    """The new text with what anchoring needs of it, computed once and only when needed."""

    def __init__(self, text: str):
        self.text = text
        self.plain = plain_typography(text)  # same length as text
        self._sentences = None
        self._index = None

    @property
    def sentences(self) -> list[tuple[int, int]]:
        if self._sentences is None:
            self._sentences = sentence_spans(self.text)
        return self._sentences

    def sentence_index(self) -> tuple[list[str], list[list[int]]]:
        """The distinct sentences, normalised (a long text repeats itself), each with the indices of
        the sentences it is."""
        if self._index is None:
            index: dict[str, list[int]] = {}
            normalised: dict[str, str] = {}  # a sentence met again is not normalised again
            plain = self.plain
            for i, (start, end) in enumerate(self.sentences):
                raw = plain[start:end]
                key = normalised.get(raw)
                if key is None:
                    key = normalised[raw] = " ".join(raw.split())
                index.setdefault(key, []).append(i)
            self._index = (list(index), list(index.values()))
        return self._index

    def windows_around(self, i: int) -> list[tuple[int, int]]:
        """The spans of 1..MAX_WINDOW consecutive sentences that include sentence `i`."""
        spans, n = self.sentences, len(self.sentences)
        return [(spans[a][0], spans[b][1]) for a in range(max(0, i - MAX_WINDOW + 1), i + 1)
                for b in range(i, min(n, a + MAX_WINDOW))]

    def sentences_in(self, start: int, end: int) -> int:
        return len(sentence_spans(self.text[start:end]))


def _score(anchor: Anchor, rev: _Revision, start: int, end: int, similarity: float) -> float:
    """Hypothesis-style: the quote's similarity weighs most, then its prefix and suffix context, then
    how near the recorded position it is."""
    text = rev.plain
    score = 50 * similarity
    if anchor.prefix:
        score += 20 * _similarity(normalise(anchor.prefix), normalise(text[max(0, start - len(anchor.prefix)):start]))
    if anchor.suffix:
        score += 20 * _similarity(normalise(anchor.suffix), normalise(text[end:end + len(anchor.suffix)]))
    if anchor.start >= 0:
        score += 2 * (1 - min(1.0, abs(start - anchor.start) / max(1, len(text))))
    return score


def _best(anchor: Anchor, rev: _Revision, spans, how: str, similarity=None, taken=()) -> _Match | None:
    best, best_score = None, -1.0
    exact = normalise(anchor.exact)
    for start, end in spans:
        if _overlaps(taken, start, end):
            continue
        sim = similarity if similarity is not None else _similarity(exact, normalise(rev.text[start:end]))
        score = _score(anchor, rev, start, end, sim)
        if score > best_score:
            best, best_score = _Match(start, end, how, sim), score
    return best


def _overlaps(taken, start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in taken)


def _exact(anchor: Anchor, rev: _Revision) -> _Match | None:
    """Steps 1-3: the quote as it is, at its position or elsewhere, or with other typography."""
    if 0 <= anchor.start and rev.text[anchor.start:anchor.end] == anchor.exact:
        return _Match(anchor.start, anchor.end, "position")
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(anchor.exact), rev.text)]
    if spans:
        return _best(anchor, rev, spans, "elsewhere", 1.0)
    spans = [(m.start(), m.end()) for m in loose_pattern(anchor.exact).finditer(rev.text)]
    if spans:
        return _best(anchor, rev, spans, "loose", 1.0)
    return None


def _context_spans(anchor: Anchor, rev: _Revision) -> list[tuple[int, int]]:
    """Step 4a: what stands between the quote's prefix and suffix, where both are found near each other."""
    prefix, suffix = normalise(anchor.prefix), normalise(anchor.suffix)
    if len(prefix) < 8 or len(suffix) < 8:
        return []
    reach = 2 * len(anchor.exact) + 64
    after = loose_pattern(suffix)
    spans = []
    for m in loose_pattern(prefix).finditer(rev.text):
        s = after.search(rev.text, m.end(), m.end() + reach)
        if s:
            start, end = m.end(), s.start()
            body = rev.text[start:end]
            start += len(body) - len(body.lstrip())
            end -= len(body) - len(body.rstrip())
            if end > start:
                spans.append((start, end))
    return spans


def _fuzzy(anchor: Anchor, rev: _Revision, taken) -> _Match | None:
    """Step 4: the best of the context span and of the runs of sentences around the sentences most
    like the quote (rapidfuzz), if similar enough. A sentence seeds runs even when it is only half the
    quote (a quote split in two)."""
    exact = normalise(anchor.exact)
    keys, places = rev.sentence_index()
    spans = _context_spans(anchor, rev)
    for _key, _sim, k in process.extract(exact, keys, scorer=fuzz.ratio, processor=None,
                                         score_cutoff=SEED_AT, limit=CANDIDATES):
        # a sentence repeated all over a long text: its occurrences nearest the old position
        for i in sorted(places[k], key=lambda i: abs(rev.sentences[i][0] - anchor.start))[:CANDIDATES]:
            spans.extend(rev.windows_around(i))
    spans.extend(_aligned(anchor, rev, span) for span in set(spans))
    match = _best(anchor, rev, set(spans), "fuzzy", taken=taken)
    if match is None or match.similarity < CHANGED_AT:
        return None
    return match


def _aligned(anchor: Anchor, rev: _Revision, span: tuple[int, int]) -> tuple[int, int]:
    """The part of a longer span most like the quote (rapidfuzz's partial alignment), widened to whole
    words: a quote merged into a longer sentence, or sharing one with a new clause."""
    start, end = span
    if end - start <= len(anchor.exact) * 1.2:
        return span
    part = fuzz.partial_ratio_alignment(plain_typography(anchor.exact), rev.plain[start:end], processor=None)
    a, b = start + part.dest_start, start + part.dest_end
    a -= len(_WORD_TAIL.search(rev.text, start, a).group())
    b += len(_WORD_HEAD.match(rev.text, b, end).group())
    return a, b


def _unspaced(text: str) -> str:
    return _ASCII_SPACE.sub("", text)


def _changed_kind(anchor: Anchor, rev: _Revision, match: _Match) -> str:
    new = rev.text[match.start:match.end]
    if _unspaced(plain_typography(new).replace("\u2026", "...")) == _unspaced(plain_typography(anchor.exact).replace("\u2026", "...")):
        # only line breaks, tabs and spaces differ (a line reflowed, even after a hyphen): whitespace;
        # other characters for the same ones (a no-break space, a curly apostrophe): typographic
        return "whitespace" if _unspaced(new) == _unspaced(anchor.exact) else "typographic"
    if rev.sentences_in(match.start, match.end) > len(sentence_spans(anchor.exact)):
        return "split"
    starts = [s for s, _ in rev.sentences]
    i = bisect.bisect_right(starts, match.start) - 1
    if i >= 0 and len(sentence_spans(anchor.exact)) == 1 and \
            (rev.sentences[i][0] < match.start or rev.sentences[i][1] > match.end + 1):
        return "merged"  # the quote now shares its sentence with other words (a sentence joined to it)
    return "wording"


def diff(anchors: list[Anchor], new_text: str, terms: list[tuple[str, str]] = (), previous: str | None = None) -> Report:
    """Re-anchor every recommendation's quote in `new_text`; `terms` are (term, kind) rows of the
    treatment wordings, for `uncovered`; `previous`, the revision the graph was built from when it is at
    hand, keeps its sentences (those the curators chose not to model) out of `uncovered`."""
    rev = _Revision(new_text)
    quotes: dict[tuple, list[Anchor]] = {}
    for a in anchors:  # recommendations sharing one quote share its anchoring
        quotes.setdefault((a.exact, a.start, a.end), []).append(a)
    found: dict[tuple, _Match] = {}
    for key, group in quotes.items():
        match = _exact(group[0], rev)
        if match:
            found[key] = match
    # fuzzy matches, best first, may not take a span another quote already stands in
    taken = [(m.start, m.end) for m in found.values()]
    tries = []
    for key, group in quotes.items():
        if key not in found:
            match = _fuzzy(group[0], rev, taken)
            if match:
                tries.append((match.similarity, key, match))
    for _sim, key, match in sorted(tries, key=lambda t: -t[0]):
        if not _overlaps(taken, match.start, match.end):
            found[key] = match
            taken.append((match.start, match.end))
        else:
            retry = _fuzzy(quotes[key][0], rev, taken)
            if retry:
                found[key] = retry
                taken.append((retry.start, retry.end))

    report = Report()
    for key, group in quotes.items():
        match = found.get(key)
        for a in group:
            _report_item(report, a, rev, match)
    report.uncovered = uncovered(rev, terms, taken, [a.exact for a in anchors] + ([previous] if previous else []))
    return report


def _report_item(report: Report, a: Anchor, rev: _Revision, match: _Match | None) -> None:
    item = {"recommendation": a.recommendation}
    if match is None:
        item.update(old=a.exact, old_start=a.start, old_end=a.end)
        report.missing.append(item)
    elif match.how == "position":
        item.update(start=match.start, end=match.end)
        report.unchanged.append(item)
    elif match.how == "elsewhere":
        item.update(old_start=a.start, old_end=a.end, new_start=match.start, new_end=match.end)
        report.moved.append(item)
    else:
        new = rev.text[match.start:match.end]
        edits, line = word_diff(a.exact, new)
        item.update(kind=_changed_kind(a, rev, match), old=a.exact, new=new,
                    similarity=round(_similarity(a.exact, new) if match.how == "loose" else match.similarity, 3),
                    old_start=a.start, old_end=a.end, new_start=match.start, new_end=match.end,
                    anchored_by="typography and whitespace" if match.how == "loose" else "context and similarity",
                    diff=edits, diff_text=line)
        report.changed.append(item)


def term_pattern(terms: list[tuple[str, str]], ignore_case: bool = False) -> re.Pattern | None:
    """One pattern for every treatment term (lower case, whole words, any whitespace between words),
    as a trie so a long text is scanned once, fast; a wording with an ellipsis ("one option … might
    be") allows words between its parts, within one sentence.

    >>> p = term_pattern([("one option … might be", "wording"), ("chemo", "synonym"), ("chemotherapy", "label")])
    >>> [m.group(0) for m in p.finditer("one option here might be chemotherapy, not chemotherapeutic")]
    ['one option here might be', 'chemotherapy']
    """
    plain, gapped = set(), []
    for term, _kind in terms:
        parts = [normalise(p).lower() for p in re.split(r"\u2026|\.\.\.", term) if normalise(p)]
        if len(parts) == 1:
            plain.add(parts[0])
        elif parts:
            gapped.append(r"[^.!?]{0,200}?".join(_trie_regex([p]) for p in parts))
    alternatives = ([_trie_regex(sorted(plain))] if plain else []) + gapped
    if not alternatives:
        return None
    return re.compile(r"\b(?:%s)\b" % "|".join(alternatives), re.IGNORECASE if ignore_case else 0)


def _trie_regex(words: list[str]) -> str:
    """A regular expression matching any of `words`, longest first, shaped as their trie (Python's
    engine then tries one branch per character instead of every word)."""
    trie: dict = {}
    for word in words:
        node = trie
        for c in word:
            node = node.setdefault(c, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [(r"\s+" if c == " " else re.escape(c)) + emit(node[c]) for c in sorted(node) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:%s)" % "|".join(branches)
        return "(?:%s)?" % body if "" in node else body
    return emit(trie)


def uncovered(rev: _Revision, terms, taken, quotes: list[str]) -> list[dict]:
    """Sentences of the new text holding a treatment term that no recommendation's quote covers: they
    overlap no anchored span and are no sentence of `quotes` (a copy of a quoted sentence elsewhere, or
    a sentence of the previous revision)."""
    lower = rev.plain.lower()
    if len(lower) != len(rev.plain):  # a few characters lower-case into two: match without lowering
        lower = None
    pattern = term_pattern(list(terms), ignore_case=lower is None)
    if pattern is None:
        return []
    spans = rev.sentences
    starts = [s for s, _ in spans]
    covered = set()
    for s, e in taken:
        covered.update(range(max(0, bisect.bisect_right(starts, s) - 1), bisect.bisect_left(starts, e)))
    quoted = {normalise(rev.plain[a:b]) for s, e in taken for a, b in _shifted(sentence_spans(rev.plain[s:e]), s)}
    quoted.update(normalise(q[a:b]) for q in quotes for a, b in sentence_spans(q))
    hits: dict[int, list[str]] = {}
    for m in pattern.finditer(rev.plain if lower is None else lower):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i < 0 or i in covered or m.start() >= spans[i][1]:
            continue
        words = hits.setdefault(i, [])
        term = " ".join(m.group(0).lower().split())
        if term not in words:
            words.append(term)
    out = []
    for i in sorted(hits):
        start, end = spans[i]
        if normalise(rev.plain[start:end]) not in quoted:
            out.append({"text": rev.text[start:end], "start": start, "end": end, "terms": hits[i]})
    return out


def _shifted(spans, offset: int):
    return [(a + offset, b + offset) for a, b in spans]


def format_table(report: Report) -> str:
    """The report for people: one line per recommendation, then the uncovered sentences."""
    lines = []

    def short(iri: str) -> str:
        return iri.rsplit("/", 1)[-1]
    for item in report.unchanged:
        lines.append("unchanged  %s  at %d" % (short(item["recommendation"]), item["start"]))
    for item in report.moved:
        lines.append("moved      %s  %d -> %d" % (short(item["recommendation"]), item["old_start"], item["new_start"]))
    for item in report.changed:
        lines.append("changed    %s  %s, similarity %.2f: %s" % (short(item["recommendation"]), item["kind"],
                                                                item["similarity"], item["diff_text"]))
    for item in report.missing:
        lines.append("missing    %s  %s" % (short(item["recommendation"]), item["old"]))
    for item in report.uncovered:
        lines.append("uncovered  %s  [%s]" % (" ".join(item["text"].split()), ", ".join(item["terms"])))
    lines.append("%d unchanged, %d moved, %d changed, %d missing, %d uncovered sentences"
                 % tuple(len(x) for x in report.as_dict().values()))
    return "\n".join(lines) + "\n"
