"""Negation and history of the things a question names, with NegEx (negspacy on spaCy's matcher).

"no FLT3 mutation", "FLT3 negative", "tested negative for IDH1 and IDH2", "never had a transplant":
whether a name of the question is negated, and whether a treatment is named as received before
("after a transplant", "post-transplant"), is read with NegEx (Chapman et al., 2001) as negspacy
implements it: trigger phrases before or after a target, a scope that ends at a termination phrase
or at a clause boundary, pseudo-triggers that are not negations ("doesn't go away"). History and
uncertainty ("IDH2 status unknown", "FLT3 pending") use the same algorithm with ConText's
"historical" and "hypothetical/uncertain" triggers. The trigger phrases are grammar, kept in
`question_grammar.yaml`; the targets are the spans the parser matched with the graph's names.
spaCy runs blank (its rule-based tokenizer and `PhraseMatcher` only): no model is downloaded.

`WindowReader` is the rule-based reader the parser used before (a trigger within a few words), kept
to compare the two on the evaluation set (`python -m tests.eval.measure --negation rules`).
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

GRAMMAR_FILE = Path(__file__).with_name("question_grammar.yaml")
#: clause boundaries: a negation does not cross them ("FLT3 not detected, IDH1 positive")
CLAUSE_END = re.compile(r"[,;.!?]")


@lru_cache(maxsize=1)
def grammar() -> dict:
    """The grammar of questions (`question_grammar.yaml`)."""
    return yaml.safe_load(GRAMMAR_FILE.read_text(encoding="utf-8"))


def termset(section: str) -> dict[str, list[str]]:
    """A negspacy termset from a section of the grammar (negation or history)."""
    g = grammar()[section]
    return {"preceding_negations": list(g["preceding"]), "following_negations": list(g["following"]),
            "pseudo_negations": list(g["pseudo"]), "termination": list(g["termination"])}


@dataclass
class Flags:
    negated: bool
    historical: bool
    uncertain: bool = False


class NegexReader:
    """NegEx (negspacy) over a blank spaCy pipeline: one negation and one history component."""

    def __init__(self):
        import importlib

        import spacy
        importlib.import_module("negspacy.negation")   # registers spaCy's "negex" factory
        self.nlp = spacy.blank("en")
        self.negation = self.nlp.add_pipe("negex", name="negation", config={
            "neg_termset": termset("negation"), "extension_name": "negated", "span_keys": ["targets"]})
        self.history = self.nlp.add_pipe("negex", name="history", config={
            "neg_termset": termset("history"), "extension_name": "historical", "span_keys": ["targets"]})
        self.uncertainty = self.nlp.add_pipe("negex", name="uncertainty", config={
            "neg_termset": termset("uncertain"), "extension_name": "uncertain", "span_keys": ["targets"]})
        self.lock = threading.Lock()

    def flags(self, text: str, targets: list[tuple[int, int]]) -> list[Flags]:
        """Negated / historical, for each (start, end) character span of `text`."""
        with self.lock:   # spaCy's Doc extensions are shared state
            doc = self.nlp.make_doc(text)
            for i, token in enumerate(doc):
                token.is_sent_start = i == 0 or bool(CLAUSE_END.fullmatch(doc[i - 1].text))
            spans = []
            for start, end in targets:
                span = doc.char_span(start, end, alignment_mode="expand")
                spans.append(span)
            doc.spans["targets"] = [s for s in spans if s is not None]
            self.negation(doc)
            self.history(doc)
            self.uncertainty(doc)
            out = []
            kept = iter(doc.spans["targets"])
            for span in spans:
                if span is None:
                    out.append(Flags(False, False))
                    continue
                s = next(kept)
                out.append(Flags(bool(s._.negated), bool(s._.historical), bool(s._.uncertain)))
            return out


class WindowReader:
    """The rule-based alternative: a trigger at most `window` words before (or 2 after) the target,
    in the same clause, with the same trigger phrases."""

    def __init__(self, window: int = 3):
        self.window = window

    def flags(self, text: str, targets: list[tuple[int, int]]) -> list[Flags]:
        low = text.lower()
        return [Flags(self._hit(low, s, e, termset("negation")), self._hit(low, s, e, termset("history")),
                      self._hit(low, s, e, termset("uncertain"))) for s, e in targets]

    def _hit(self, low: str, start: int, end: int, terms: dict) -> bool:
        clause_start = max([m.end() for m in CLAUSE_END.finditer(low, 0, start)] or [0])
        m = CLAUSE_END.search(low, end)
        clause_end = m.start() if m else len(low)
        before = low[clause_start:start].split()[-self.window:]
        after = low[end:clause_end].split()[:2]
        before_text, after_text = " ".join(before), " ".join(after)
        if any(re.search(r"(?:^|\s)%s$" % re.escape(p), before_text) or
               re.search(r"(?:^|\s)%s(?:\s|$)" % re.escape(p), before_text) for p in terms["preceding_negations"]):
            return not any(p in before_text for p in terms["pseudo_negations"])
        return any(re.match(r"%s(?:\s|$)" % re.escape(p), after_text) for p in terms["following_negations"])


_readers: dict = {}
_readers_lock = threading.Lock()


def reader(kind: str | None = None):
    """The negation reader: NegEx unless `KG_QUESTION_NEGATION=rules` (for comparisons)."""
    kind = kind or os.environ.get("KG_QUESTION_NEGATION", "negex")
    r = _readers.get(kind)
    if r is None:
        with _readers_lock:   # one reader per process, even when the first questions come together
            r = _readers.get(kind)
            if r is None:
                r = _readers[kind] = WindowReader() if kind == "rules" else NegexReader()
    return r

