"""/api/options over real HTTP: competency questions 1-7, the contract's shape and semantics."""
from __future__ import annotations

import pytest

from .conftest import NOT_HELPFUL, TEXT, assert_quotes_exact, therapies

IDH_INHIBITORS = {"ivosidenib", "olutasidenib", "enasidenib"}


def by_label(options, label):
    return [o for o in options if o["therapy"]["label"] == label]


@pytest.fixture(params=["GET", "POST"])
def find(request, api):
    """The options answer for a profile, by GET (query parameters) or POST (JSON)."""
    def run(**profile):
        if request.param == "GET":
            params = {k: ",".join(v) if isinstance(v, list) else v for k, v in profile.items()}
            return api.json("/api/options", params)
        r = api.post("/api/options", json=profile)
        assert r.status_code == 200, r.text
        return r.json()
    return run


def test_cq1_idh1_relapse(find):
    answer = find(status="relapsed", mutations=["IDH1"])
    names = therapies(answer["options"])
    assert {"ivosidenib", "olutasidenib"} <= names
    assert {"chemotherapy", "stem cell transplant"} <= names           # "other options might include"
    assert {"gemtuzumab ozogamicin", "clinical trial"} <= names         # general relapsed-AML options
    assert not therapies(answer["options"], helpful_only=False) & {"enasidenib", "gilteritinib", "arsenic trioxide"}
    brands = {o["therapy"]["label"]: o["therapy"]["brand"] for o in answer["options"]}
    assert brands["ivosidenib"] == "Tibsovo" and brands["olutasidenib"] == "Rezlidhia"
    ivo = by_label(answer["options"], "ivosidenib")[0]
    assert ivo["therapy"]["kind"] == "IDH1 inhibitor" and ivo["therapy"]["xrefs"].get("DrugBank") == "DB14568"
    assert "mutation IDH1 matches" in ivo["why"] and "status relapsed matches" in ivo["why"]
    assert ivo["source"]["section"] == "For AML with a mutation in the IDH1 or IDH2 gene"
    assert ivo["fda_approvals"] and ivo["fda_approvals"][0]["date"]
    assert_quotes_exact(answer["options"])
    assert answer["profile"] == {"disease": "AML", "status": "relapsed", "mutations": ["IDH1"], "site": "marrow"}
    assert answer["disclaimer"].startswith("Not medical advice")


def test_cq2_flt3_refractory(find):
    answer = find(status="refractory", mutations=["FLT3"])
    names = therapies(answer["options"])
    assert {"gilteritinib", "reinduction chemotherapy"} <= names
    assert not therapies(answer["options"], helpful_only=False) & IDH_INHIBITORS
    gilt = by_label(answer["options"], "gilteritinib")[0]
    assert gilt["therapy"]["brand"] == "Xospata" and gilt["conditions"] == []
    assert_quotes_exact(answer["options"])


def test_cq3_early_relapse_in_a_45_year_old(find):
    answer = find(status="relapsed", remission_months=8, age=45)
    names = therapies(answer["options"])
    assert {"stem cell transplant", "clinical trial"} <= names
    assert "arsenic trioxide" not in therapies(answer["options"], helpful_only=False)
    advised = [o for o in by_label(answer["options"], "stem cell transplant") if o["strength"] == "advised"]
    assert advised and "if possible" in advised[0]["conditions"]
    assert "younger patients" in advised[0]["source"]["quote"]
    assert answer["options"][0]["strength"] == "advised"  # strongest first
    # the options for a remission of at least a year are not met by 8 months
    assert not [o for o in answer["options"] if "if remission lasted at least a year" in o["conditions"]]
    assert_quotes_exact(answer["options"])


def test_cq4_refractory(find):
    answer = find(status="refractory")
    names = therapies(answer["options"])
    assert {"reinduction chemotherapy", "intensified chemotherapy", "stem cell transplant", "clinical trial",
            "gemtuzumab ozogamicin"} <= names
    assert not therapies(answer["options"], helpful_only=False) & {"arsenic trioxide", "all-trans retinoic acid"}
    intensified = by_label(answer["options"], "intensified chemotherapy")[0]
    assert "if the person can tolerate them" in intensified["conditions"]
    assert "if reinduction isn't helpful" in intensified["conditions"]
    assert "for some people" in by_label(answer["options"], "stem cell transplant")[0]["conditions"]
    assert_quotes_exact(answer["options"])


def test_cq5_apl_relapse(find):
    answer = find(disease="APL", status="relapsed")
    names = therapies(answer["options"])
    assert {"stem cell transplant", "clinical trial"} <= names
    assert not therapies(answer["options"], helpful_only=False) & IDH_INHIBITORS
    sct = by_label(answer["options"], "stem cell transplant")[0]
    assert "if a person is healthy enough" in sct["conditions"]
    # APL has its own section: the options "for most types of AML" do not apply to it
    assert "Treatment for most types of AML" not in {o["source"]["section"] for o in answer["options"]}
    assert_quotes_exact(answer["options"])


def test_cq6_pain_beyond_aspirin(find):
    answer = find(status="relapsed", symptoms=["pain"])
    opioid = by_label(answer["options"], "opioid medicine")
    assert opioid, therapies(answer["options"])
    assert "morphine" in opioid[0]["source"]["quote"]
    assert any("aspirin and ibuprofen" in c for c in opioid[0]["conditions"] + opioid[0]["why"])
    assert {"radiation therapy", "pain-relieving medicine"} <= therapies(answer["options"])
    assert_quotes_exact(answer["options"])


def test_cq7_symptom_treatments(find):
    answer = find(status="refractory", symptoms=["infection", "nausea", "appetite_loss", "low_blood_counts"])
    names = therapies(answer["options"])
    assert {"antibiotic", "medicine for symptoms", "high-calorie food supplement", "blood transfusion"} <= names
    assert "opioid medicine" not in names  # no pain stated
    assert_quotes_exact(answer["options"])


def test_symptoms_bring_supportive_care_only_when_stated(api):
    plain = therapies(api.json("/api/options", {"status": "relapsed"})["options"])
    assert not plain & {"antibiotic", "opioid medicine", "blood transfusion"}


def test_general_options_apply_alongside_mutation_specific_ones(api):
    unknown = api.json("/api/options", {"status": "relapsed"})["options"]
    idh2 = api.json("/api/options", {"status": "relapsed", "mutations": "IDH2"})["options"]
    general = {o["recommendation"] for o in unknown
               if not any(c.startswith("if the leukemia cells have") for c in o["conditions"])}
    assert general and general <= {o["recommendation"] for o in idh2}
    assert by_label(idh2, "enasidenib")[0]["conditions"] == []
    # with the mutations not stated, the mutation-specific options stay, their condition left open
    assert "if the leukemia cells have an IDH2 mutation" in by_label(unknown, "enasidenib")[0]["conditions"]


def test_remission_of_exactly_twelve_months_is_at_least_a_year(api):
    options = api.json("/api/options", {"status": "relapsed", "remission_months": "12"})["options"]
    late = [o for o in options if "If remission lasted at least a year" in o["source"]["quote"]]
    early = [o for o in options if o["source"]["quote"].startswith("If AML comes back sooner than 12 months")]
    assert late and not early
    assert any("remission (months) 12" in w for o in late for w in o["why"])
    options = api.json("/api/options", {"status": "relapsed", "remission_months": "11.9"})["options"]
    assert not [o for o in options if "If remission lasted at least a year" in o["source"]["quote"]]


def test_advised_against_appears_as_not_likely_helpful(api):
    options = api.json("/api/options", {"status": "relapsed"})["options"]
    against = [o for o in options if o["strength"] == NOT_HELPFUL]
    assert against and "probably not be very helpful" in against[0]["source"]["quote"]
    assert options[-1]["strength"] == NOT_HELPFUL  # weakest last, never promoted


def test_open_conditions_are_returned_not_assumed(api):
    options = api.json("/api/options", {"status": "relapsed"})["options"]
    younger = [o for o in options if "younger patients" in o["source"]["quote"]]
    assert younger and all(any("younger" in c for c in o["conditions"]) for o in younger)
    options = api.json("/api/options", {"status": "relapsed", "age": "70", "remission_months": "3"})["options"]
    assert not [o for o in options if "younger patients" in o["source"]["quote"]]


def test_cns_relapse(api):
    options = api.json("/api/options", {"status": "relapsed", "site": "cns"})["options"]
    assert "intrathecal chemotherapy" in therapies(options)
    assert "intrathecal chemotherapy" not in therapies(api.json("/api/options", {"status": "relapsed"})["options"])


def test_apl_prior_therapy(api):
    options = api.json("/api/options", {"disease": "APL", "status": "relapsed", "prior_therapy": "ATRA+chemo"})["options"]
    ato = by_label(options, "arsenic trioxide")
    assert ato and ato[0]["strength"] == "often effective"


def test_unknown_gene_is_a_warning_not_an_error(api):
    answer = api.json("/api/options", {"status": "relapsed", "mutations": "IDH1,NPM1"})
    assert any("NPM1" in w for w in answer["warnings"])
    assert "ivosidenib" in therapies(answer["options"])


def test_case_insensitive_values_and_deterministic_order(api):
    a = api.get("/api/options", {"status": "Relapsed", "mutations": "idh1,flt3"})
    b = api.get("/api/options", {"status": "relapsed", "mutations": "FLT3, IDH1"})
    assert a.status_code == b.status_code == 200
    assert [o["recommendation"] for o in a.json()["options"]] == [o["recommendation"] for o in b.json()["options"]]
    assert a.content == api.get("/api/options", {"status": "Relapsed", "mutations": "idh1,flt3"}).content


def test_repeated_list_parameters_are_joined(api):
    a = api.json("/api/options", [("status", "relapsed"), ("mutations", "IDH1"), ("mutations", "FLT3")])
    assert set(a["profile"]["mutations"]) == {"IDH1", "FLT3"}


def test_every_quote_of_every_profile_is_exact(api):
    seen = set()
    for disease in ("AML", "APL"):
        for status in ("relapsed", "refractory"):
            for extra in ({}, {"mutations": "FLT3,IDH1,IDH2"}, {"symptoms": "pain,nausea,infection"},
                          {"site": "cns", "remission_months": "3", "age": "30"}):
                options = api.json("/api/options", {"disease": disease, "status": status, **extra})["options"]
                for o in options:
                    seen.add(o["recommendation"])
                    assert o["source"]["quote"] in TEXT
    assert len(seen) >= 30
