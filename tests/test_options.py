"""The options finder's per-factor reuse of condition rows gives exactly the one-query answer."""
from __future__ import annotations

import random

from kg_service.named_queries import load_all
from kg_service.options import BOOLEAN_FIELDS, CHOICES, OptionsFinder, assemble, parse_profile

QUERIES = load_all()


def _random_profile(rnd: random.Random) -> dict:
    raw = {"status": rnd.choice(CHOICES["status"]), "disease": rnd.choice(CHOICES["disease"])}
    if rnd.random() < 0.6:
        raw["mutations"] = rnd.sample(["FLT3", "IDH1", "IDH2", "NPM1"], rnd.randint(0, 2))
    for field, low, high in (("age", 0, 100), ("remission_months", 0, 30)):
        if rnd.random() < 0.6:
            raw[field] = rnd.choice([low, high, 6, 12, 60, 59, 61, rnd.randint(low, high)]
                                    + ([11.5, 12.0, 6.5] if field == "remission_months" else []))
    if rnd.random() < 0.4 and raw["disease"] == "APL":  # an initial APL treatment (with AML: a 400)
        raw["prior_therapy"] = rnd.choice(CHOICES["prior_therapy"])
    if "mutations" not in raw and rnd.random() < 0.3:
        raw["absent_mutations"] = rnd.sample(["FLT3", "IDH1", "IDH2"], rnd.randint(1, 2))
    for flag in BOOLEAN_FIELDS:
        if rnd.random() < 0.3:
            raw[flag] = rnd.random() < 0.5
    if rnd.random() < 0.3:
        raw["site"] = "cns"
    if rnd.random() < 0.4:
        raw["symptoms"] = rnd.sample(list(CHOICES["symptoms"]), rnd.randint(1, 3))
    return parse_profile(raw)


def test_assembled_parts_equal_one_query_over_the_whole_profile(store):
    finder = OptionsFinder(lambda: store, QUERIES)
    facts = finder.snapshot(store)
    rnd = random.Random(7)
    for _ in range(60):
        profile = _random_profile(rnd)
        bindings, _warnings = finder.bindings(profile, facts.vocabulary)
        whole = store.select(QUERIES["options"].text, bindings)
        expected = assemble(whole, facts.details, facts.approvals, facts.vocabulary, profile)
        assert finder.find(profile)["options"] == expected, profile
    # the parts were shared: far fewer distinct parts than profiles times factors
    assert len(facts.parts) < 60 * 13


def test_profiles_in_one_situation_share_the_options_but_quote_their_own_numbers(store):
    finder = OptionsFinder(lambda: store, QUERIES)
    facts = finder.snapshot(store)
    answers = [finder.find(parse_profile({"status": "relapsed", "mutations": ["IDH1"], "age": age,
                                          "remission_months": months}))
               for age, months in ((45, 13), (52, 29.5))]
    assert len(facts.situations) == 1  # 13 and 29.5 months, 45 and 52 years: the same side of every bound
    first, second = (a["options"] for a in answers)
    assert [o["recommendation"] for o in first] == [o["recommendation"] for o in second]
    whys = [w for o in second for w in o["why"]]
    assert any(" 29.5:" in w for w in whys) and any(" 52:" in w for w in whys), whys
    assert not any("\x00" in w for a in answers for o in a["options"] for w in o["why"])
    assert not any(" 13:" in w or " 45:" in w for w in whys), whys


def _ranked(answer):
    return [(o["recommendation"], o["match"], tuple(o["conditions"])) for o in answer["options"]]


def test_a_bound_inside_one_region_answers_as_any_number_in_it(store):
    """A bound settles what every number it allows settles alike (issue 16: "a bound that decides a
    threshold settles it"); a bound across a threshold leaves exactly the conditions it straddles open."""
    finder = OptionsFinder(lambda: store, QUERIES)
    for status in ("relapsed", "refractory"):
        for disease, prior in (("AML", None), ("APL", "ATRA+ATO")):
            base = {"status": status, "disease": disease, "age": 45, **({"prior_therapy": prior} if prior else {})}
            for bound, number in (("<6", 3), ("<=6", 6), ("7-11", 9), (">=12", 12), (">12", 40), ("~3", 3)):
                got = finder.find(parse_profile({**base, "remission_months": bound}))
                same = finder.find(parse_profile({**base, "remission_months": number}))
                assert _ranked(got) == _ranked(same), (base, bound)
    straddle = finder.find(parse_profile({"status": "relapsed", "age": 45, "remission_months": "6-18"}))
    opened = {c for o in straddle["options"] for c in o["conditions"]}
    assert {"if AML comes back sooner than 12 months", "if remission lasted at least a year"} <= opened
