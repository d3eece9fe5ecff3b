"""The evaluation set (cases.yaml): every phrasing reads into its profile, and /api/ask answers it
with the options the document gives for that profile (over real HTTP, embedded store)."""
from __future__ import annotations

import pytest
import requests

from kg_service import negation
from kg_service.named_queries import load_all
from kg_service.question import lexicon_for, parse_question

from .evaluate import load, option_errors, profile_errors

CASES, GROUPS = load()


@pytest.fixture(scope="module")
def lexicon(store):
    return lexicon_for(store, load_all())


@pytest.fixture(scope="module")
def session(embedded_live_server):
    s = requests.Session()
    yield lambda q: s.get(embedded_live_server.url + "/api/ask", params={"q": q}, timeout=30).json()
    s.close()


def test_the_set_is_large_and_varied():
    assert len(CASES) >= 150
    tags = {t for c in CASES for t in c.get("tags", [])}
    assert {"negation", "duration", "bound", "variant", "misspelling", "british", "patient", "clinician"} <= tags
    for c in CASES:
        assert c["include"] or c["exclude"] or not c.get("expect"), c["q"]


@pytest.mark.parametrize("case", CASES, ids=[c["q"][:60] for c in CASES])
def test_profile(lexicon, case):
    parsed = parse_question(case["q"], lexicon)
    assert profile_errors(case, parsed) == [], parsed.understood


@pytest.mark.parametrize("case", [c for c in CASES if c["include"] or c["exclude"]],
                         ids=[c["q"][:60] for c in CASES if c["include"] or c["exclude"]])
def test_options(session, case):
    answer = session(case["q"])
    assert option_errors(case, answer) == [], answer.get("profile")


def test_negex_reads_more_questions_right_than_a_word_window(lexicon, monkeypatch):
    """The choice of NegEx (negspacy) over the rule-based window, on this set's profiles."""
    def right(kind):
        monkeypatch.setenv("KG_QUESTION_NEGATION", kind)
        return sum(not profile_errors(c, parse_question(c["q"], lexicon)) for c in CASES)
    negex, rules = right("negex"), right("rules")
    assert isinstance(negation.reader("negex"), negation.NegexReader)
    assert negex > rules, (negex, rules)
