"""/api/options over real HTTP: competency questions 1-7, the contract's shape and semantics."""
from __future__ import annotations

import pytest

from .conftest import NOT_HELPFUL, TEXT, assert_problem, assert_quotes_exact, therapies

IDH_INHIBITORS = {"ivosidenib", "olutasidenib", "enasidenib"}
HEALTHY = "as long as a person is healthy enough for them"


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
    # the document's opening framing is the one condition left (issue 16, item 8)
    assert gilt["therapy"]["brand"] == "Xospata" and gilt["conditions"] == [HEALTHY]
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
    assert by_label(idh2, "enasidenib")[0]["conditions"] == [HEALTHY]
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
    # "generally younger than 60" is not a cut-off (issue 16, item 6): at 70 the option stays, marked outside
    options = api.json("/api/options", {"status": "relapsed", "age": "70", "remission_months": "3"})["options"]
    younger = [o for o in options if "younger patients" in o["source"]["quote"]]
    assert younger and all(o["match"] == "outside" and "generally" in o["outside"][0] for o in younger)


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


# -- issue 16: profiles read as a clinician would (bounds, variants, negation, soft bounds, framing, order) --
LATE = "If remission lasted at least a year"
EARLY_TRANSPLANT = "If AML comes back sooner than 12 months, most doctors will advise"
LATE_TRANSPLANT = "For younger patients (generally those younger than 60), most doctors would then advise"
MATCH_ORDER = {"holds": 0, "open": 1, "outside": 2}


def quoted(options, start):
    return [o for o in options if o["source"]["quote"].startswith(start)]


def assert_stated_order(options):
    """The README's order: not likely helpful last; before it, holds < open < outside."""
    keys = [(o["strength"] == NOT_HELPFUL, MATCH_ORDER[o["match"]]) for o in options]
    assert keys == sorted(keys), [(o["therapy"]["label"], o["strength"], o["match"]) for o in options]


@pytest.mark.parametrize("bound, early, late", [("<12", True, False), ("<=6", True, False), (">=12", False, True),
                                                (">24", False, True), ("13-20", False, True), ("3-9", True, False)])
def test_items_1_2_a_remission_bound_that_decides_the_threshold_settles_it(find, bound, early, late):
    answer = find(status="relapsed", remission_months=bound, age=45)
    assert answer["profile"]["remission_months"] == bound  # echoed in the same notation
    options = answer["options"]
    assert bool(quoted(options, EARLY_TRANSPLANT)) is early and bool(quoted(options, LATE)) is late
    settled = quoted(options, EARLY_TRANSPLANT if early else LATE)[0]
    assert any(w.startswith("remission (months) %s:" % bound) for w in settled["why"]), settled["why"]
    assert_quotes_exact(options)


@pytest.mark.parametrize("bound", ["6-18", ">6", "~12", "<24"])
def test_items_1_2_a_bound_that_does_not_decide_leaves_the_condition_open(find, bound):
    options = find(status="relapsed", remission_months=bound, age=45)["options"]
    early, late = quoted(options, EARLY_TRANSPLANT), quoted(options, LATE)
    assert early and late
    assert "if AML comes back sooner than 12 months" in early[0]["conditions"] and early[0]["match"] == "open"
    assert "if remission lasted at least a year" in late[0]["conditions"]


def test_items_1_2_an_age_bound(find):
    over = find(status="relapsed", remission_months="<12", age=">60")["options"]
    assert quoted(over, EARLY_TRANSPLANT)[0]["match"] == "outside"
    answer = find(status="relapsed", remission_months="<12", age="40-49")
    assert answer["profile"]["age"] == "40-49" and quoted(answer["options"], EARLY_TRANSPLANT)[0]["match"] == "holds"


@pytest.mark.parametrize("variant, drug", [("FLT3-ITD", "gilteritinib"), ("FLT3-TKD", "gilteritinib"),
                                           ("FLT3 D835Y", "gilteritinib"), ("IDH1 R132H", "ivosidenib"),
                                           ("IDH1 R132C", "olutasidenib"), ("IDH2 R140Q", "enasidenib"),
                                           ("IDH2 R172K", "enasidenib"), ("IDH2 p.R172K", "enasidenib"),
                                           ("flt3-itd", "gilteritinib")])
def test_item_3_variant_names_match_their_gene_through_the_ontology(find, variant, drug):
    answer = find(status="relapsed", mutations=[variant])
    assert drug in therapies(answer["options"]), answer["warnings"]
    assert not answer["warnings"]
    assert any(w.startswith("mutation %s" % variant.split()[0].upper()) for w in by_label(answer["options"], drug)[0]["why"])
    others = {"gilteritinib"} if drug != "gilteritinib" else IDH_INHIBITORS
    assert not therapies(answer["options"]) & others  # the list is complete: no other gene's options


def test_item_3_an_unknown_variant_of_a_known_gene_keeps_the_gene_with_a_note(find):
    answer = find(status="relapsed", mutations=["IDH1 R100Q"])
    assert {"ivosidenib", "olutasidenib"} <= therapies(answer["options"])
    assert any("IDH1 R100Q" in w and "IDH1" in w for w in answer["warnings"]), answer["warnings"]


def test_item_3_mutations_none_and_unknown(api):
    none = api.json("/api/options", {"status": "relapsed", "mutations": "none"})
    assert none["profile"]["mutations"] == [] and not therapies(none["options"]) & (IDH_INHIBITORS | {"gilteritinib"})
    unknown = api.json("/api/options", {"status": "relapsed", "mutations": "unknown"})
    assert "mutations" not in unknown["profile"] and IDH_INHIBITORS <= therapies(unknown["options"])


def test_absent_mutations_settle_only_those_genes(find):
    answer = find(status="relapsed", absent_mutations=["FLT3"])
    names = therapies(answer["options"])
    assert "gilteritinib" not in names and IDH_INHIBITORS <= names
    assert answer["profile"]["absent_mutations"] == ["FLT3"]
    idh_chemo = [o for o in quoted(answer["options"], "Other options might include")]
    both = find(status="relapsed", absent_mutations=["IDH1", "IDH2"])["options"]
    assert idh_chemo and not quoted(both, "Other options might include")   # "IDH1 or IDH2": both ruled out
    assert not therapies(both) & IDH_INHIBITORS


def test_a_gene_found_and_tested_negative_is_a_400_naming_both(api):
    r = api.post("/api/options", json={"status": "relapsed", "mutations": ["FLT3-ITD"], "absent_mutations": ["FLT3"]})
    assert_problem(r, 400, "mutations", "absent_mutations")


def test_item_5_atra_plus_ato_means_apl_said_in_warnings(find):
    answer = find(status="relapsed", prior_therapy="ATRA+ATO", remission_months=4)
    assert answer["profile"]["disease"] == "APL" and "disease" not in answer["defaults"]
    assert any("inferred" in w and "APL" in w for w in answer["warnings"])
    options = answer["options"]
    assert quoted(options, "For patients whose initial treatment was with the non-chemo drugs")
    assert "gemtuzumab ozogamicin" not in therapies(options)
    assert not [o for o in options if o["strength"] == "advised"]
    assert {o["source"]["section"] for o in options} <= {"Treatment for acute promyelocytic leukemia (APL)",
                                                          "Supportive treatment for leukemia that won't go away"}


def test_item_5_aml_with_an_apl_only_first_treatment_is_a_400_naming_both(api):
    r = api.get("/api/options", params={"status": "relapsed", "disease": "AML", "prior_therapy": "ATRA+ATO"})
    assert_problem(r, 400, "disease", "prior_therapy")


def test_defaults_are_named_never_silent(api):
    answer = api.json("/api/options", {"status": "relapsed"})
    assert answer["defaults"] == ["disease", "site"] and answer["profile"]["site"] == "marrow"
    assert api.json("/api/options", {"status": "relapsed", "disease": "AML", "site": "marrow"})["defaults"] == []


def test_item_6_generally_younger_than_60_is_not_a_cut_off(find):
    answer = find(status="relapsed", remission_months=">=12", age=64)
    late = quoted(answer["options"], LATE_TRANSPLANT)
    assert late and late[0]["match"] == "outside" and late[0]["strength"] == "advised"
    assert any("generally" in o and "64" in o for o in late[0]["outside"]), late[0]["outside"]
    holds = [i for i, o in enumerate(answer["options"]) if o["match"] == "holds" and o["strength"] != NOT_HELPFUL]
    assert holds and max(holds) < answer["options"].index(late[0])   # ranked after options whose conditions hold
    assert_stated_order(answer["options"])


def test_item_6_about_six_months_for_apl_is_not_a_cut_off(find):
    options = find(status="relapsed", prior_therapy="ATRA+ATO", remission_months=8)["options"]
    early = quoted(options, "For patients whose initial treatment was with the non-chemo drugs")
    assert early and early[0]["match"] == "outside" and "about" in early[0]["outside"][0]
    ato = by_label(options, "arsenic trioxide")
    assert ato and ato[0]["match"] == "holds" and options.index(ato[0]) < options.index(early[0])


def test_item_7_opioids_come_after_the_medicines_and_radiation_they_follow(find):
    options = find(status="relapsed", mutations=["IDH1"], symptoms=["pain"])["options"]
    labels = [o["therapy"]["label"] for o in options]
    assert labels.index("opioid medicine") > labels.index("pain-relieving medicine")
    assert labels.index("opioid medicine") > labels.index("radiation therapy")
    assert labels.index("opioid medicine") > max(labels.index(d) for d in ("ivosidenib", "olutasidenib"))


def test_item_8_healthy_enough_is_a_condition_of_every_active_treatment(find):
    answer = find(status="refractory", mutations=["IDH1"], age=80)
    supportive = "Supportive treatment for leukemia that won't go away"
    active = [o for o in answer["options"] if o["source"]["section"] != supportive and o["strength"] != NOT_HELPFUL]
    assert active
    for o in active:
        assert any("healthy enough" in c or "tolerate" in c for c in o["conditions"]), (o["therapy"], o["conditions"])
    unfit = find(status="refractory", mutations=["IDH1"], age=80, fit=False)["options"]
    assert not [o for o in unfit if o["source"]["section"] != supportive and o["strength"] != NOT_HELPFUL]
    assert "supportive care" in therapies(unfit)
    fit = find(status="refractory", mutations=["IDH1"], fit=True)["options"]
    ivo = by_label(fit, "ivosidenib")[0]
    assert HEALTHY not in ivo["conditions"] and any(HEALTHY in w for w in ivo["why"])


def test_item_10_after_a_transplant_the_transplant_statements_say_they_do_not_cover_it(find):
    answer = find(status="relapsed", remission_months=4, age=45, prior_transplant=True)
    transplants = by_label(answer["options"], "stem cell transplant")
    assert transplants
    for o in transplants:
        assert o["match"] == "outside" and any("second transplant" in t for t in o["outside"]), o
    assert answer["options"][0]["therapy"]["label"] != "stem cell transplant"
    assert_stated_order(answer["options"])
    fresh = quoted(find(status="relapsed", remission_months=4, age=45, prior_transplant=False)["options"],
                   EARLY_TRANSPLANT)
    assert fresh and fresh[0]["match"] == "holds" and not fresh[0]["outside"]


def test_item_10_keeps_coming_back_brings_the_not_likely_helpful_chemo(find):
    options = find(status="relapsed", keeps_coming_back=True)["options"]
    chemo = [o for o in options if o["strength"] == NOT_HELPFUL]
    assert chemo and chemo[0]["therapy"]["label"] == "chemotherapy" and options[-1] is chemo[-1]
    assert any(w.startswith("keeps coming back yes") for w in chemo[0]["why"])
    assert not [o for o in find(status="relapsed", keeps_coming_back=False)["options"] if o["strength"] == NOT_HELPFUL]


def test_donor_settles_the_donor_condition(find):
    with_donor = quoted(find(status="relapsed", remission_months=14, age=40, donor=True)["options"], LATE_TRANSPLANT)
    assert with_donor and any(w.startswith("donor yes") for w in with_donor[0]["why"])
    assert not quoted(find(status="relapsed", remission_months=14, age=40, donor=False)["options"], LATE_TRANSPLANT)


def test_item_12_wording(api):
    listing = {q["name"]: q for q in api.json("/api/queries")["queries"]}
    assert "advised-against" not in listing and "advis" not in listing["not-likely-helpful"]["summary"].lower()
    options = api.json("/api/options", {"status": "refractory"})["options"]
    assert by_label(options, "reinduction chemotherapy")[0]["strength_wording"].startswith("sometimes")


def test_item_13_unsettled_advised_rows_do_not_bury_fully_matched_options(find):
    answer = find(status="relapsed", mutations=["IDH2"])
    options = answer["options"]
    assert options[0]["therapy"]["label"] == "enasidenib" and options[0]["match"] == "holds"
    advised = [o for o in options if o["strength"] == "advised"]
    assert len(advised) == 2 and all(o["match"] == "open" for o in advised)
    assert min(options.index(o) for o in advised) > max(i for i, o in enumerate(options) if o["match"] == "holds"
                                                          and o["strength"] != NOT_HELPFUL)
    assert_stated_order(options)


@pytest.mark.parametrize("bad", [{"remission_months": "<x"}, {"remission_months": "12-6"}, {"age": ">1000"},
                                 {"age": "60.5-70"}, {"fit": "maybe"}, {"mutations": "FLT3 ITD!"},
                                 {"absent_mutations": "IDH1 R132H"}])
def test_malformed_new_fields_are_400_naming_the_field(api, bad):
    r = api.get("/api/options", params={"status": "relapsed", **bad})
    assert_problem(r, 400, *bad)


def test_the_cli_takes_the_new_flags(store_path):
    import json
    import subprocess
    import sys
    from tests.conftest import ROOT
    r = subprocess.run([sys.executable, "-m", "kg_service", "options", "--status", "relapsed", "--mutations", "FLT3-ITD",
                        "--remission-months", "<12", "--age", ">60", "--no-fit", "--prior-transplant",
                        "--absent-mutations", "IDH1", "--store", store_path],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["profile"] == {"disease": "AML", "status": "relapsed", "mutations": ["FLT3-ITD"],
                                 "absent_mutations": ["IDH1"], "remission_months": "<12", "age": ">60",
                                 "site": "marrow", "fit": False, "prior_transplant": True}
    assert "gilteritinib" not in therapies(answer["options"])   # an active treatment, and not fit


def test_an_inferred_disease_is_not_answered_from_the_stated_ones_cache(api):
    stated = api.json("/api/options", {"status": "relapsed", "disease": "APL", "prior_therapy": "ATRA+ATO"})
    inferred = api.json("/api/options", {"status": "relapsed", "prior_therapy": "ATRA+ATO"})
    assert not any("inferred" in w for w in stated["warnings"])
    assert any("inferred" in w for w in inferred["warnings"])
