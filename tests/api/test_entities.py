"""/api/entities/<id> and /api/search over real HTTP."""
from __future__ import annotations

import pytest

from .conftest import TEXT, assert_problem


def test_a_drug(api):
    e = api.json("/api/entities/Ivosidenib")
    assert e["id"] == "https://w3id.org/amlkg/Ivosidenib" and e["curie"] == "amlkg:Ivosidenib"
    assert e["label"] == "ivosidenib" and e["brand_names"] == ["Tibsovo"] and "Tibsovo" in e["synonyms"]
    assert {"id": "https://w3id.org/amlkg/IDH1Inhibitor", "curie": "amlkg:IDH1Inhibitor",
            "label": "IDH1 inhibitor"} in e["superclasses"]
    assert e["xrefs"]["DrugBank"] == "DB14568" and "https://go.drugbank.com/drugs/DB14568" in e["xref_iris"]
    (rec,) = e["recommendations"]
    assert rec["relation"] == ["recommends"] and rec["source"]["quote"] in TEXT
    assert e["fda_approvals"] and e["fda_approvals"][0]["date"] == "2018-07-20"
    links = {(link["direction"], link["property"], link["label"]) for link in e["links"]}
    assert ("in", "amlkg:recommends", "ACS2022 recommendation: idh1 ivosidenib") in links


@pytest.mark.parametrize("ident", ["Ivosidenib", "amlkg:Ivosidenib", "https://w3id.org/amlkg/Ivosidenib"])
def test_three_ways_to_name_an_entity(api, ident):
    assert api.json("/api/entities/" + ident)["id"] == "https://w3id.org/amlkg/Ivosidenib"


def test_a_profile_value_lists_the_recommendations_that_require_it(api):
    e = api.json("/api/entities/IDH1Mutation")
    assert e["codes"] == ["IDH1"]
    recs = {r["therapy"] for r in e["recommendations"]}
    assert {"ivosidenib", "olutasidenib"} <= recs
    assert all("condition" in r["relation"] for r in e["recommendations"])


def test_a_recommendation(api):
    e = api.json("/api/entities/acs2022-flt3-gilteritinib")
    assert e["recommendation"]["therapy"]["label"] == "gilteritinib"
    assert e["recommendation"]["source"]["quote"] in TEXT


@pytest.mark.parametrize("ident", ["NoSuchThing", "amlkg:Nope", "https://example.org/x", "x> } DROP ALL",
                                   "a b", "%00"])
def test_unknown_entities_are_404(api, ident):
    assert_problem(api.get("/api/entities/" + ident), 404)


def test_search_by_brand_name_case_and_accent_insensitive(api):
    for q in ("Tibsovo", "tibsovo", "TÎBSOVO"):
        first = api.json("/api/search", {"q": q})["results"][0]
        assert first["id"] == "https://w3id.org/amlkg/Ivosidenib"
        assert first["match"] == "exact" and first["name_kind"] == "brand"


def test_search_ranking(api):
    results = api.json("/api/search", {"q": "chemo"})["results"]
    assert results[0]["label"] == "chemotherapy" and results[0]["match"] == "exact"
    order = {"exact": 0, "prefix": 1, "word": 2, "substring": 3}
    ranks = [order[r["match"]] for r in results]
    assert ranks == sorted(ranks)
    # a label beats a synonym at the same level of match
    results = api.json("/api/search", {"q": "gilteritinib"})["results"]
    assert results[0]["name_kind"] == "label"
    assert len(api.json("/api/search", {"q": "in", "limit": "3"})["results"]) == 3


def test_search_synonyms(api):
    labels = {r["label"] for r in api.json("/api/search", {"q": "isocitrate"})["results"]}
    assert {"IDH1", "IDH2"} <= labels
    assert api.json("/api/search", {"q": "zzzzqqq"})["results"] == []


@pytest.mark.parametrize("params, field", [({}, "q"), ({"q": ""}, "q"), ({"q": "  "}, "q"),
                                           ({"q": "x", "limit": "0"}, "limit"), ({"q": "x", "limit": "abc"}, "limit"),
                                           ({"q": "x", "page": "2"}, "page")])
def test_search_bad_requests(api, params, field):
    assert_problem(api.get("/api/search", params=params), 400, field)
