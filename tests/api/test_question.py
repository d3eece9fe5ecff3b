"""kg_service.question: the plain-language parser, without HTTP (the graph's names from the real store)."""
from __future__ import annotations

import ast
import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_service import negation as negation_module
from kg_service import question
from kg_service import question_numbers as numbers_module
from kg_service.named_queries import load_all
from kg_service.question import Lexicon, lexicon_for, normalise, parse_question, phrase_key, stem, tokenize


@pytest.fixture(scope="module")
def lexicon(store):
    return lexicon_for(store, load_all())


@pytest.mark.parametrize("q, expected", [
    ("options for IDH1+ relapse", {"status": "relapsed", "mutations": ["IDH1"]}),
    ("what if AML comes back after 8 months in a 50 year old with FLT3",
     {"disease": "AML", "status": "relapsed", "mutations": ["FLT3"], "remission_months": ">=8", "age": 50}),
    ("APL relapse after ATRA plus chemo", {"disease": "APL", "status": "relapsed", "prior_therapy": "ATRA+chemo"}),
    ("refractory AML with pain", {"disease": "AML", "status": "refractory", "symptoms": ["pain"]}),
    ("AML that did not go away with induction", {"disease": "AML", "status": "refractory"}),
    ("AML that doesn't respond to treatment", {"disease": "AML", "status": "refractory"}),
    ("recurred acute promyelocytic leukemia", {"disease": "APL", "status": "relapsed"}),
    ("CNS relapse of acute myeloid leukemia", {"disease": "AML", "status": "relapsed", "site": "cns"}),
    ("relapsed AML, isocitrate dehydrogenase 1 mutated", {"disease": "AML", "status": "relapsed",
                                                          "mutations": ["IDH1"]}),
    ("relapse after a remission of more than 2 years", {"status": "relapsed", "remission_months": ">24"}),
    ("AML comes back sooner than 12 months", {"disease": "AML", "status": "relapsed", "remission_months": "<12"}),
    ("relapsed AML, remission of exactly 12 months", {"disease": "AML", "status": "relapsed",
                                                      "remission_months": 12}),
    ("relapsed APL within about 6 months", {"disease": "APL", "status": "relapsed", "remission_months": "<6"}),
    ("relapsed AML aged 61 with fatigue and appetite loss",
     {"disease": "AML", "status": "relapsed", "age": 61, "symptoms": ["fatigue", "appetite_loss"]}),
])
def test_questions(lexicon, q, expected):
    parsed = parse_question(q, lexicon)
    assert parsed.profile == expected, parsed.understood
    assert parsed.unrecognized == []


def test_every_understood_value_says_where_it_came_from(lexicon):
    parsed = parse_question("what if AML comes back after 8 months in a 50 year old with FLT3", lexicon)
    for u in parsed.understood:
        assert u["text"] and u["via"] and u["field"]
    texts = {u["field"]: u["text"] for u in parsed.understood}
    assert texts["age"] == "50 year old" and texts["remission_months"] == "after 8 months"


def test_negated_genes_are_left_out(lexicon):
    parsed = parse_question("relapsed AML without a FLT3 mutation, IDH2 positive", lexicon)
    assert parsed.profile["mutations"] == ["IDH2"] and parsed.profile["absent_mutations"] == ["FLT3"]
    assert any(u["field"] == "absent_mutations" and u["text"] == "FLT3" for u in parsed.understood)


def test_mentions_and_unrecognized(lexicon):
    parsed = parse_question("is Xospata or morphine an option for relapsed AML with splenomegaly", lexicon)
    assert [m["label"] for m in parsed.mentions] == ["gilteritinib", "morphine"]
    assert parsed.unrecognized == ["splenomegaly"]


def test_conflicting_statuses(lexicon):
    parsed = parse_question("relapsed AML, or is it refractory?", lexicon)
    assert parsed.conflicts == {"status": ["relapsed", "refractory"]} and not parsed.has_status


def test_both_statuses_as_alternatives_are_read_as_both(lexicon):
    """Issue 16, item 11: "relapsed or refractory AML" names both situations; the answer covers both."""
    for q in ("relapsed or refractory AML", "r/r AML", "relapsed/refractory AML", "refractory or relapsed AML",
              "AML that doesn't respond or comes back"):
        parsed = parse_question(q, lexicon)
        assert sorted(parsed.statuses) == ["refractory", "relapsed"], q
        assert "status" not in parsed.profile and not parsed.conflicts, q
        assert sorted(p["status"] for p in parsed.profiles) == ["refractory", "relapsed"], q
    assert parse_question("relapsed AML", lexicon).profiles == [{"disease": "AML", "status": "relapsed"}]


def test_the_specific_disease_wins_over_the_generic_one(lexicon):
    assert parse_question("APL, a kind of AML, relapsed", lexicon).profile["disease"] == "APL"


def test_names_come_from_the_graph_not_from_python(lexicon):
    """The parser knows no drug, gene or symptom by itself: with the names of a graph that calls the
    IDH1 code something else, the question no longer maps."""
    rows = [r for r in lexicon.rows if not str(r.get("name", "")).upper().startswith("IDH1")]
    rows = [{**r, "code": "IDH1X"} if r.get("code") == "IDH1" else r for r in rows]
    parsed = parse_question("options for IDH1+ relapse", Lexicon.from_rows(rows))
    assert parsed.profile["status"] == "relapsed"
    assert parsed.profile.get("mutations") == ["IDH1"] and any(
        u["via"] == "gene symbol (not in the graph)" for u in parsed.understood)
    source = inspect.getsource(question)
    strings = {n.value.lower() for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant)
               and isinstance(n.value, str)}
    for name in ("gilteritinib", "ivosidenib", "xospata", "flt3", "idh1", "idh2", "pain", "nausea", "apl", "cns",
                 "atra+ato", "atra+chemo", "marrow"):
        assert not any(s.strip() == name for s in strings if "\n" not in s), name


def test_the_grammar_file_names_no_drug_gene_or_symptom(lexicon):
    """Grammar (negation, history, facts, statuses) is in question_grammar.yaml; names only in the graph."""
    from kg_service.negation import grammar
    from kg_service.question import _grammar_forms
    names = {key[0] for key, cands in lexicon.phrases.items() if len(key) == 1 and any(
        c.entity.therapy or set(c.entity.values) & {"mutations", "symptoms", "disease", "site"} for c in cands)}
    assert names and not names & _grammar_forms(grammar())
    for module in (question, negation_module, numbers_module):
        source = inspect.getsource(module)
        strings = {n.value.lower() for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)}
        assert not {s.strip() for s in strings} & {n for n in names if len(n) > 2}, module.__name__


@pytest.mark.parametrize("q, expected", [
    # item 1: upper bounds
    ("AML relapsed within a year", {"status": "relapsed", "remission_months": "<12"}),
    ("relapse in less than 9 months", {"status": "relapsed", "remission_months": "<9"}),
    ("remission of at most 10 months, relapsed", {"status": "relapsed", "remission_months": "<=10"}),
    ("relapsed after more than 18 months", {"status": "relapsed", "remission_months": ">18"}),
    ("relapsed after about 2 years", {"status": "relapsed", "remission_months": "~24"}),
    ("relapsed within 6 weeks", {"status": "relapsed", "remission_months": "<1.4"}),
    # item 2: time since an event
    ("relapsed 10 months ago", {"status": "relapsed"}),
    ("relapsed 10 months ago, remission lasted 3 years", {"status": "relapsed", "remission_months": 36}),
    # item 11: ages
    ("I am 45, relapsed AML", {"status": "relapsed", "age": 45}),
    ("relapsed AML, over 60", {"status": "relapsed", "age": ">60"}),
    ("relapsed AML in her seventies", {"status": "relapsed", "age": "70-79"}),
    ("relapsed AML in his early 60s", {"status": "relapsed", "age": "60-63"}),
    # items 4 and 11: negation, statuses in words
    ("no mutations were found, relapsed AML", {"status": "relapsed", "mutations": []}),
    ("FLT3 negative relapsed AML", {"status": "relapsed", "absent_mutations": ["FLT3"]}),
    ("relapsed AML, IDH1 and IDH2 wild-type", {"status": "relapsed", "absent_mutations": ["IDH1", "IDH2"]}),
    ("not in remission after two rounds of chemo", {"status": "refractory"}),
    # items 9 and 10
    ("came back in my spinal fluid", {"status": "relapsed", "site": "cns"}),
    ("relapsed after an allogeneic transplant", {"status": "relapsed", "prior_transplant": True}),
    ("AML keeps coming back", {"status": "relapsed", "keeps_coming_back": True}),
    ("too frail for chemo, refractory AML", {"status": "refractory", "fit": False}),
    ("relapsed AML, no suitable donor", {"status": "relapsed", "donor": False}),
])
def test_issue16_phrasings(lexicon, q, expected):
    profile = {k: v for k, v in parse_question(q, lexicon).profile.items() if (k, v) != ("disease", "AML")}
    assert profile == expected


def test_helpers():
    assert normalise("  Réfractory\u00a0AML  ") == "refractory aml"
    assert stem("infections") == "infection" and stem("came") == "come"
    assert [t.norm for t in tokenize("ATRA+ATO")] == ["atra", "+", "ato"]
    assert phrase_key("AML that comes back") == ("aml", "come", "back")


def test_parse_question_uses_the_served_graph_in_an_app_context(app):
    with app.app_context():
        assert parse_question("options for IDH1+ relapse").profile["mutations"] == ["IDH1"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120) | st.lists(st.sampled_from(
    ["relapsed", "AML", "IDH1+", "no", "FLT3", "after", "12", "months", "less than", "45-year-old", "APL", "ATRA",
     "plus", "chemo", "pain", "and", "not", "go", "away", "Xospata", "a year", "ﬁ", "é", "NPM1", "+", "-"]),
    max_size=12).map(" ".join))
def test_any_text_parses_without_error(lexicon, text):
    parsed = parse_question(text, lexicon)
    assert set(parsed.profile) <= {"disease", "status", "mutations", "absent_mutations", "remission_months", "age",
                                   "prior_therapy", "site", "symptoms", "fit", "donor", "prior_transplant",
                                   "keeps_coming_back"}
    assert all(isinstance(w, str) and w for w in parsed.unrecognized)
