"""What the pages read from the graph once per graph version: form choices, strengths, the pathway
rows, and each quote placed in its section; kept in the version's snapshot (`kg_service.snapshot`).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import pathway
from ..options import CHOICES
from ..store import Store
from . import source_text

QUERY_DIR = Path(__file__).resolve().parent / "queries"
SVG_CACHE_ENTRIES = 256


def ui_query(name: str) -> str:
    """The text of one of the pages' own queries (kg_service/ui/queries/<name>.rq)."""
    return _query_texts()[name]


@lru_cache(maxsize=1)
def _query_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(QUERY_DIR.glob("*.rq"))}


@dataclass
class Facts:
    strengths: list[tuple[str, int]]
    colours: dict[str, tuple[str, str]]
    choices: dict[str, list[tuple[str, str]]]     # field -> [(code, label)]
    sections: list                                # pathway.collect(...)
    passages: dict[str, source_text.Passage]      # recommendation IRI -> its quote in its section
    svgs: OrderedDict = field(default_factory=OrderedDict)       # profile key -> rendered picture
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remember_svg(self, key, svg: str) -> None:
        """Keep a rendered picture (a small LRU: the server's threads share it)."""
        with self.lock:
            self.svgs[key] = svg
            self.svgs.move_to_end(key)
            while len(self.svgs) > SVG_CACHE_ENTRIES:
                self.svgs.popitem(last=False)


def read_facts(store: Store, code_labels: dict[str, str]) -> Facts:
    """Everything the pages need from the graph that changes only with a build."""
    strengths = [(str(r["label"]), int(r["rank"])) for r in store.select(ui_query("strengths"))]
    choices: dict[str, list[tuple[str, str]]] = {}
    roots = {"GeneMutation": "mutations", "SymptomOrFinding": "symptoms"}
    for r in store.select(ui_query("form-vocabulary")):
        fld = roots.get(str(r["root"]).rsplit("/", 1)[-1])
        if fld and (str(r["code"]), str(r["label"])) not in choices.setdefault(fld, []):
            choices[fld].append((str(r["code"]), str(r["label"])))
    order = {c: i for i, c in enumerate(CHOICES["symptoms"])}
    choices.setdefault("symptoms", []).sort(key=lambda c: (order.get(c[0], 99), c[0]))
    choices.setdefault("mutations", []).sort()
    for fld in ("disease", "status", "prior_therapy", "site"):
        choices[fld] = [(code, code_labels.get(code.lower(), code)) for code in CHOICES[fld]]
    return Facts(strengths, pathway.strength_colours(strengths), choices,
                 pathway.collect(store.select(ui_query("pathway"))), _passages(store))


def _passages(store: Store) -> dict[str, source_text.Passage]:
    headings: dict[str, list[str]] = {}
    for r in store.select(ui_query("sections")):
        headings.setdefault(str(r["document"]), []).append(str(r["heading"]))
    out = {}
    for r in store.select(ui_query("quotes")):
        rec, exact = str(r["recommendation"]), str(r["exact"])
        prefix, suffix = str(r.get("prefix", "")), str(r.get("suffix", ""))
        text = source_text.load_text(str(r.get("sourceFile", "")), str(r["sha256"]) if "sha256" in r else None)
        where = None
        if text is not None:
            where = source_text.locate(text, exact, int(r["start"]) if "start" in r else None,
                                       int(r["end"]) if "end" in r else None, prefix, suffix)
        if where is not None:
            out[rec] = source_text.passage(text, headings.get(str(r["document"]), []), *where)
        else:
            out[rec] = source_text.context_passage(str(r["section"]), exact, prefix, suffix)
    return out


def get_facts() -> Facts:
    """The current graph version's facts for the pages (a field of its snapshot)."""
    from ..services import get_snapshot
    return get_snapshot().pages


def code_labels(vocab) -> dict[str, str]:
    """Profile code (lower case) -> the label of its class, from the finder's vocabulary."""
    return {code.lower(): vocab.labels.get(iri, code) for code, iri in vocab.codes.items()}


def init_app(app) -> None:
    """Each graph version's snapshot holds the pages' facts, read when it is built."""
    from ..services import add_snapshot_step
    add_snapshot_step(app, "pages", lambda store, snap: read_facts(store, code_labels(snap.vocabulary)))
