"""The annotator's per-factor assembly gives exactly the options finder's answers."""
from __future__ import annotations

import io
import itertools
import random

from kg_service.annotate import Annotator, annotate, column_field, row_profile
from kg_service.named_queries import load_all
from kg_service.options import OptionsFinder, condition_bounds, parse_profile, side_of_bounds


def make(store):
    queries = load_all()
    finder = OptionsFinder(lambda: store, queries)
    return finder, Annotator(finder, store, queries, condition_bounds(store, queries))


def test_bounds_come_from_the_graph(store):
    _, annotator = make(store)
    assert [float(b) for b in annotator.bounds["age"]] == [60.0]
    assert [float(b) for b in annotator.bounds["remission_months"]] == [6.0, 12.0]


def random_profiles(n: int, seed: int = 3):
    rng = random.Random(seed)
    for _ in range(n):
        raw = {"status": rng.choice(["relapsed", "refractory"]), "disease": rng.choice(["AML", "APL"])}
        if rng.random() < 0.7:
            raw["mutations"] = rng.choice(["", "IDH1", "IDH2", "FLT3", "FLT3,IDH1", "NPM1", "IDH2,NPM1"])
        if rng.random() < 0.7:
            raw["age"] = rng.choice([20, 59, 60, 61, 90])
        if rng.random() < 0.7:
            raw["remission_months"] = rng.choice([0, 5.5, 6, 6.5, 11.99, 12, 12.01, 40])
        if rng.random() < 0.4 and raw["disease"] == "APL":  # an initial APL treatment: with AML a 400 (issue 16)
            raw["prior_therapy"] = rng.choice(["ATRA+ATO", "ATRA+chemo"])
        if rng.random() < 0.2:
            raw["site"] = "cns"
        if rng.random() < 0.5:
            raw["symptoms"] = ",".join(rng.sample(["pain", "low_blood_counts", "fatigue", "nausea",
                                                   "appetite_loss", "infection"], rng.randint(1, 3)))
        yield parse_profile(raw)


def comparable(options):
    """Options with `why` reduced to the facts' names: when several stated values meet one condition
    (nausea and loss of appetite), options.rq's SAMPLE names one of them, whichever comes first."""
    return [{**o, "why": [w.split(" ")[0] for w in o["why"]]} for o in options]


def test_the_assembled_answers_equal_the_finder_answers(store):
    finder, annotator = make(store)
    for profile in random_profiles(150):
        expected = finder.find(profile)
        got = annotator.find(profile)
        assert comparable(got["options"]) == comparable(expected["options"]), profile
        assert got["warnings"] == expected["warnings"]
    assert annotator.queries_run <= 80  # parts are reused: fewer queries than profiles


def test_numbers_on_the_same_side_of_every_bound_share_an_answer(store):
    finder, annotator = make(store)
    columns = {}
    for age, months in itertools.product([30, 45, 59, 61, 80], [7, 8, 11.5, 12, 30]):
        profile = parse_profile({"status": "relapsed", "age": age, "remission_months": months})
        columns.setdefault(annotator.situation(profile), []).append(
            annotator.columns(finder.find(profile)))
    assert len(columns) == 6  # two sides of 60 years x below 12, at 12, above 12 months
    for same in columns.values():
        assert all(c == same[0] for c in same)
    assert side_of_bounds(12, annotator.bounds["remission_months"]) != side_of_bounds(11.9, annotator.bounds[
        "remission_months"])


def test_stream(store):
    _, annotator = make(store)
    errors = []
    out = io.StringIO()
    stats = annotate(io.StringIO("id,status,mutations\n1,relapsed,IDH1;FLT3\n2,,IDH1\n"), out, annotator,
                     on_error=lambda line, text: errors.append((line, text)))
    assert stats.rows == 2 and stats.errors == 1
    assert errors == [(3, "status: required: refractory or relapsed")]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("id,status,mutations,options,")
    assert "gilteritinib" in lines[1] and "ivosidenib" in lines[1]


def test_helpers():
    assert column_field("Prior-Therapy") == "prior_therapy" and column_field("id") is None
    assert row_profile({"mutations": "IDH1; FLT3", "symptoms": "none", "age": " "}) == \
        {"mutations": "IDH1, FLT3", "symptoms": ""}
