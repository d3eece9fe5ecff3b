"""/api/ask over real HTTP: the patient-situation competency questions asked in plain words."""
from __future__ import annotations

import pytest

from .conftest import assert_problem, assert_quotes_exact, therapies

IDH_INHIBITORS = {"ivosidenib", "olutasidenib", "enasidenib"}


def ask(api, q):
    return api.json("/api/ask", {"q": q})


def test_answer_shape(api):
    a = ask(api, "options for IDH1+ relapse")
    assert set(a) >= {"question", "profile", "unrecognized", "options", "warnings", "disclaimer", "understood",
                      "mentions"}
    assert a["question"] == "options for IDH1+ relapse"
    assert a["profile"] == {"disease": "AML", "status": "relapsed", "mutations": ["IDH1"], "site": "marrow"}
    assert a["unrecognized"] == []
    assert {(u["field"], u["value"]) for u in a["understood"]} == {("mutations", "IDH1"), ("status", "relapsed")}


def test_cq1(api):
    a = ask(api, "options for IDH1+ relapse")
    names = therapies(a["options"])
    assert {"ivosidenib", "olutasidenib", "chemotherapy", "stem cell transplant", "gemtuzumab ozogamicin"} <= names
    assert not therapies(a["options"], helpful_only=False) & {"enasidenib", "gilteritinib", "arsenic trioxide"}
    assert_quotes_exact(a["options"])


def test_cq2(api):
    a = ask(api, "What are the options for FLT3-mutated refractory AML?")
    assert a["profile"]["status"] == "refractory" and a["profile"]["mutations"] == ["FLT3"]
    names = therapies(a["options"])
    assert {"gilteritinib", "reinduction chemotherapy"} <= names
    assert not names & IDH_INHIBITORS
    assert a["unrecognized"] == []


def test_cq3(api):
    a = ask(api, "Options for AML that came back after less than 12 months in a 45-year-old")
    assert a["profile"]["status"] == "relapsed" and a["profile"]["age"] == 45
    assert a["profile"]["remission_months"] == "<12"
    names = therapies(a["options"])
    assert {"stem cell transplant", "clinical trial"} <= names and "arsenic trioxide" not in names
    assert a["options"][0]["strength"] == "advised"
    assert a["unrecognized"] == []


def test_cq4(api):
    a = ask(api, "options for AML that did not go away with induction")
    assert a["profile"]["status"] == "refractory"
    names = therapies(a["options"])
    assert {"reinduction chemotherapy", "intensified chemotherapy", "stem cell transplant", "clinical trial",
            "gemtuzumab ozogamicin"} <= names
    assert not names & {"arsenic trioxide", "all-trans retinoic acid"}


def test_cq5(api):
    a = ask(api, "Options for APL at any relapse")
    assert a["profile"]["disease"] == "APL" and a["profile"]["status"] == "relapsed"
    names = therapies(a["options"])
    assert {"stem cell transplant", "clinical trial"} <= names and not names & IDH_INHIBITORS


def test_cq6_pain_beyond_aspirin(api):
    a = ask(api, "relapsed AML with pain: what helps when aspirin and ibuprofen do not?")
    assert a["profile"]["symptoms"] == ["pain"]
    assert "opioid medicine" in therapies(a["options"])
    # the medicines the question names are recognised, not "unrecognized"
    assert {m["label"] for m in a["mentions"]} == {"aspirin", "ibuprofen"}
    assert a["unrecognized"] == []


def test_cq7_symptoms(api):
    a = ask(api, "refractory AML with infections, nausea, loss of appetite and low blood counts")
    assert set(a["profile"]["symptoms"]) == {"infection", "nausea", "appetite_loss", "low_blood_counts"}
    assert {"antibiotic", "medicine for symptoms", "high-calorie food supplement", "blood transfusion"} \
        <= therapies(a["options"])


@pytest.mark.parametrize("q, profile", [
    ("what if AML comes back after 8 months in a 50 year old with FLT3",
     {"disease": "AML", "status": "relapsed", "mutations": ["FLT3"], "remission_months": ">=8", "age": 50}),
    ("APL relapse after ATRA plus chemo", {"disease": "APL", "status": "relapsed", "prior_therapy": "ATRA+chemo"}),
    ("refractory AML with pain", {"disease": "AML", "status": "refractory", "symptoms": ["pain"]}),
    ("relapse of APL after ATRA and arsenic trioxide, remission 4 months",
     {"disease": "APL", "status": "relapsed", "prior_therapy": "ATRA+ATO", "remission_months": 4}),
    ("AML came back in the brain", {"disease": "AML", "status": "relapsed", "site": "cns"}),
    ("Réfractory AML, FLT3-ITD", {"disease": "AML", "status": "refractory", "mutations": ["FLT3"]}),
    ("remission lasted at least a year, IDH2-mutated", {"status": "relapsed", "mutations": ["IDH2"],
                                                         "remission_months": ">=12"}),
])
def test_questions_read_into_profiles(api, q, profile):
    a = ask(api, q)
    assert {k: a["profile"][k] for k in profile} == profile, a["understood"]
    assert a["unrecognized"] == []


def test_unrecognized_words_are_listed(api):
    a = ask(api, "options for IDH1+ relapse with splenomegaly")
    assert a["unrecognized"] == ["splenomegaly"]
    assert a["profile"]["mutations"] == ["IDH1"]


def test_a_drug_in_the_question_is_recognised_and_marked(api):
    a = ask(api, "is gilteritinib an option for relapsed AML")
    assert a["unrecognized"] == []
    (m,) = a["mentions"]
    assert m["label"] == "gilteritinib" and m["among_options"] and m["options"]
    marked = [o for o in a["options"] if o["mentioned"]]
    assert {o["therapy"]["label"] for o in marked} == {"gilteritinib"}
    assert all(o["mentioned"] is False for o in a["options"] if o not in marked)


def test_a_brand_name_and_a_drug_class_are_recognised(api):
    a = ask(api, "is Tibsovo an option for relapsed AML with IDH1")
    assert a["mentions"][0]["label"] == "ivosidenib" and a["mentions"][0]["among_options"]
    a = ask(api, "IDH inhibitors for relapsed AML")
    marked = {o["therapy"]["label"] for o in a["options"] if o["mentioned"]}
    assert marked == IDH_INHIBITORS  # the class marks its members


def test_unknown_gene_in_a_question(api):
    a = ask(api, "relapsed AML with NPM1")
    assert a["profile"]["mutations"] == ["NPM1"]
    assert any("NPM1" in w for w in a["warnings"])


def test_no_status_is_422_with_a_hint(api):
    body = assert_problem(api.get("/api/ask", params={"q": "purple elephants"}), 422)
    assert "relapsed" in body["hint"] and body["unrecognized"] == ["purple", "elephants"]
    body = assert_problem(api.get("/api/ask", params={"q": "AML with IDH1"}), 422)
    assert body["profile"]["mutations"] == ["IDH1"]


def test_two_statuses_that_contradict_are_422(api):
    """Two statuses not written as alternatives ("relapsed ..., or is it refractory?") are asked about."""
    body = assert_problem(api.get("/api/ask", params={"q": "relapsed AML, or is it refractory?"}), 422)
    assert "relapsed" in body["detail"] and "refractory" in body["detail"]


def test_impossible_values_are_422(api):
    body = assert_problem(api.get("/api/ask", params={"q": "relapsed AML in a 200 year old"}), 422, "age")
    assert body["profile"]["age"] == 200


@pytest.mark.parametrize("params, field", [({}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 501}, "q"),
                                           ({"q": "relapse", "foo": "1"}, "foo")])
def test_bad_requests_are_400(api, params, field):
    assert_problem(api.get("/api/ask", params=params), 400, field)


# -- issue 16: questions read as a clinician would (regressions of items 1-5 and 9-11) ------------
def recs(answer) -> set[str]:
    """The recommendations of an answer, by the id of loaders/data/acs-recommendations.yaml."""
    return {o["recommendation"].rsplit("/", 1)[-1].removeprefix("acs2022-") for o in answer["options"]}


@pytest.mark.parametrize("q", ["AML relapsed within a year", "came back within 12 months",
                               "my leukaemia came back in under a year", "it relapsed before 12 months were up"])
def test_item1_within_a_year_is_an_early_relapse(api, q):
    a = ask(api, q)
    assert a["profile"]["remission_months"] == "<12", a["understood"]
    assert {"early-relapse-transplant-younger", "early-relapse-clinical-trial"} <= recs(a)
    assert not recs(a) & {"late-relapse-chemo", "late-relapse-transplant-younger", "late-relapse-clinical-trial"}
    assert not any("at least a year" in w for o in a["options"] for w in o["why"])


def test_item2_time_since_relapse_is_not_the_remission(api):
    a = ask(api, "relapsed 10 months ago")
    assert "remission_months" not in a["profile"]
    assert any("not the length of a remission" in u["via"] for u in a["understood"])
    a = ask(api, "relapsed 10 months ago, remission lasted 3 years")
    assert a["profile"]["remission_months"] == 36
    assert "late-relapse-chemo" in recs(a) and "early-relapse-clinical-trial" not in recs(a)


@pytest.mark.parametrize("q, gene, drug", [("refractory AML with FLT3-ITD", "FLT3", "gilteritinib"),
                                           ("relapsed AML, FLT3 D835Y", "FLT3", "gilteritinib"),
                                           ("relapsed AML with IDH1 R132H", "IDH1", "ivosidenib"),
                                           ("relapsed AML, IDH2 p.R172K", "IDH2", "enasidenib")])
def test_item3_variants_read_as_their_gene(api, q, gene, drug):
    a = ask(api, q)
    assert gene in a["profile"]["mutations"] and drug in therapies(a["options"]), a["understood"]


@pytest.mark.parametrize("q, absent, dropped", [
    ("relapsed AML without FLT3", ["FLT3"], {"gilteritinib"}),
    ("relapsed AML, FLT3 negative", ["FLT3"], {"gilteritinib"}),
    ("refractory AML, FLT3 wild-type", ["FLT3"], {"gilteritinib"}),
    ("relapsed AML, tested negative for IDH1 and IDH2", ["IDH1", "IDH2"], IDH_INHIBITORS),
    ("relapsed AML, no FLT3 mutation", ["FLT3"], {"gilteritinib"}),
])
def test_item4_genes_tested_negative_drop_their_drugs(api, q, absent, dropped):
    a = ask(api, q)
    assert sorted(a["profile"].get("absent_mutations", [])) == absent, a["understood"]
    assert not therapies(a["options"], helpful_only=False) & dropped


def test_item4_no_mutations_found(api):
    a = ask(api, "relapsed AML, no mutations found")
    assert a["profile"]["mutations"] == []
    assert not therapies(a["options"], helpful_only=False) & (IDH_INHIBITORS | {"gilteritinib"})


def test_item5_atra_and_ato_read_as_the_prior_therapy(api):
    a = ask(api, "relapsed after ATRA and ATO, remission 4 months")
    assert a["profile"]["prior_therapy"] == "ATRA+ATO" and a["profile"]["remission_months"] == 4
    a = ask(api, "relapsed APL after arsenic")
    assert a["profile"]["prior_therapy"] == "ATRA+ATO" and a["profile"]["disease"] == "APL"


def test_item9_spinal_fluid_is_the_cns_and_an_unstated_site_is_not_said(api):
    a = ask(api, "came back in my spinal fluid")
    assert a["profile"]["site"] == "cns" and "intrathecal chemotherapy" in therapies(a["options"])
    a = ask(api, "relapsed AML")
    assert not any(u["field"] == "site" for u in a["understood"])


def test_item10_transplant_and_coming_back_are_read(api):
    a = ask(api, "relapsed after stem cell transplant")
    assert a["profile"]["prior_transplant"] is True, a["understood"]
    a = ask(api, "the leukemia keeps coming back")
    assert a["profile"]["keeps_coming_back"] is True and a["profile"]["status"] == "relapsed"
    assert "keeps-coming-back-chemo" in recs(a)


@pytest.mark.parametrize("q, field, value", [
    ("I am 45 and my AML relapsed", "age", 45),
    ("relapsed AML in a patient over 60", "age", ">60"),
    ("my mother is in her seventies and her leukemia came back", "age", "70-79"),
    ("not in remission after two rounds of chemo", "status", "refractory"),
    ("relapsed AML with tiredness", "symptoms", ["fatigue"]),
])
def test_item11_ages_status_and_symptoms_in_plain_words(api, q, field, value):
    a = ask(api, q)
    assert a["profile"][field] == value, a["understood"]


def test_item11_fever_is_unrecognized_not_an_infection(api):
    a = ask(api, "relapsed AML and fever")
    assert "fever" in a["unrecognized"] and "symptoms" not in a["profile"]
    assert "antibiotic" not in therapies(a["options"])


@pytest.mark.parametrize("q", ["relapsed or refractory AML", "r/r AML", "relapsed/refractory AML"])
def test_item11_relapsed_or_refractory_is_answered_for_both(api, q):
    a = ask(api, q)
    names = therapies(a["options"])
    assert {"reinduction chemotherapy", "gemtuzumab ozogamicin"} <= names
    assert "early-relapse-clinical-trial" in recs(a)
    assert any("both" in w for w in a["warnings"])
