"""Named queries over real HTTP: the list, competency questions 8-12, CSV, typed binding, injection."""
from __future__ import annotations

import csv
import io

import pytest

from kg_service.named_queries import load_all

from .conftest import TEXT, assert_problem

QUERIES = load_all()


def rows(api, name, params=None):
    body = api.json("/api/queries/%s" % name, params)
    assert body["query"] == name
    for r in body["rows"]:
        assert list(r) == body["columns"]
    return body["rows"]


def test_the_list_describes_every_query_file(api):
    listed = {q["name"]: q for q in api.json("/api/queries")["queries"]}
    assert set(listed) == set(QUERIES)
    targeted = listed["targeted-drugs"]
    assert targeted["summary"] and targeted["url"] == "/api/queries/targeted-drugs"
    (kind,) = targeted["parameters"]
    assert kind == {"name": "kind", "type": "iri", "required": False, "values": None,
                    "description": "a drug class, e.g. IDHInhibitor, FLT3Inhibitor"}
    assert {e["name"] for e in targeted["examples"]} == {"cq8", "cq9"}
    options = listed["options"]
    assert {p["name"] for p in options["parameters"]} == {"disease", "status", "mutations", "remission_months",
                                                         "age", "prior_therapy", "site", "symptoms",
                                                         "absent_mutations", "fit", "donor", "prior_transplant",
                                                         "keeps_coming_back"}  # issue 16 adds the last five
    assert next(p for p in options["parameters"] if p["name"] == "status")["required"] is True


@pytest.mark.parametrize("name, example", [(q.name, ex) for q in QUERIES.values() for ex in q.examples])
def test_every_example_of_every_header_runs(api, name, example):
    listed = {q["name"]: q for q in api.json("/api/queries")["queries"]}
    url = next(e["url"] for e in listed[name]["examples"] if e["name"] == example)
    body = api.json(url)
    assert body["rows"], url


def test_cq8_idh_inhibitors_and_their_genes(api):
    got = {r["drugLabel"]: r["geneLabel"] for r in rows(api, "targeted-drugs", {"kind": "IDHInhibitor"})}
    assert got == {"ivosidenib": "IDH1", "olutasidenib": "IDH1", "enasidenib": "IDH2"}
    # the same with the prefixed and the full IRI
    assert rows(api, "targeted-drugs", {"kind": "amlkg:IDHInhibitor"}) == \
        rows(api, "targeted-drugs", {"kind": "https://w3id.org/amlkg/IDHInhibitor"})


def test_cq9_brand_names(api):
    brands = {r["drugLabel"]: r["brands"] for r in rows(api, "targeted-drugs")}
    assert brands["gilteritinib"] == "Xospata" and brands["ivosidenib"] == "Tibsovo"
    assert brands["olutasidenib"] == "Rezlidhia" and brands["enasidenib"] == "Idhifa"
    assert brands["gemtuzumab ozogamicin"] == "Mylotarg"


def test_cq10_not_likely_helpful(api):
    (row,) = rows(api, "not-likely-helpful")
    assert "probably not be very helpful" in row["quote"] and row["quote"] in TEXT
    assert "keeps coming back" in row["conditions"]


def test_cq11_where_each_recommendation_comes_from(api):
    got = rows(api, "recommendations")
    assert len(got) >= 30
    for r in got:
        assert r["quote"] in TEXT and "\n%s\n" % r["section"] in TEXT
        assert r["revised"] == "2022-12-01" and r["document"].startswith("https://w3id.org/amlkg/")
        assert isinstance(r["order"], int)
    one = rows(api, "recommendations", {"recommendation": "acs2022-idh1-ivosidenib"})
    assert [r["therapyLabel"] for r in one] == ["ivosidenib"]


def test_cq12_approvals_after_the_revision(api):
    got = rows(api, "approvals", {"after_revision": "true"})
    assert {r["drugLabel"] for r in got} == {"revumenib", "ziftomenib"}
    assert all(r["inDocument"] is False and r["afterRevision"] is True for r in got)
    documented = {r["drugLabel"] for r in rows(api, "approvals", {"after_revision": "false"})}
    assert not documented & {"revumenib", "ziftomenib"} and "gilteritinib" in documented


def test_cq6_and_cq7_supportive_care(api):
    pain = rows(api, "supportive-care", {"symptom": "pain"})
    opioid = [r for r in pain if r["treatmentLabel"] == "opioid medicine"]
    assert opioid and "morphine" in opioid[0]["examples"] and "aspirin and ibuprofen" in opioid[0]["condition"]
    by_symptom = {}
    for r in rows(api, "supportive-care"):
        by_symptom.setdefault(r["symptomLabel"], set()).add(r["treatmentLabel"])
    assert "antibiotic" in by_symptom["infection"]
    assert "high-calorie food supplement" in by_symptom["loss of appetite"]
    assert {"blood transfusion", "medicine for symptoms"} <= by_symptom["low blood counts"]


def test_the_profile_query_takes_profile_fields(api):
    body = api.json("/api/queries/options", {"status": "relapsed", "mutations": "IDH1"})
    assert body["params"]["mutations"] == ["IDH1"]
    states = {(r["recommendation"].rsplit("/", 1)[1], r["field"]): r["state"] for r in body["rows"] if r["field"]}
    assert states[("acs2022-idh1-ivosidenib", "mutations")] == "met"
    assert states[("acs2022-flt3-gilteritinib", "mutations")] == "unmet"
    assert_problem(api.get("/api/queries/options", params={"mutations": "IDH1"}), 400, "status")


def test_csv_by_accept(api):
    r = api.get("/api/queries/targeted-drugs", params={"kind": "IDHInhibitor"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["drugLabel"]: row["geneLabel"] for row in table} == {"ivosidenib": "IDH1", "olutasidenib": "IDH1",
                                                                     "enasidenib": "IDH2"}
    approvals = api.get("/api/queries/approvals", params={"after_revision": "true"}, headers={"Accept": "text/csv"})
    assert ",false" in approvals.text  # booleans as the SPARQL CSV writes them
    assert_problem(api.get("/api/queries/targeted-drugs", headers={"Accept": "image/png"}), 406)


def test_an_empty_answer_keeps_its_columns(api):
    body = api.json("/api/queries/targeted-drugs", {"kind": "Chemotherapy"})
    assert body["rows"] == [] and body["columns"][:2] == ["drug", "drugLabel"]


def test_unknown_query_is_404(api):
    assert_problem(api.get("/api/queries/no-such-query"), 404)
    assert_problem(api.get("/api/queries/..%2F..%2Fetc%2Fpasswd"), 404)


@pytest.mark.parametrize("name, params, field", [
    ("targeted-drugs", {"drug_class": "IDHInhibitor"}, "drug_class"),
    ("approvals", {"after_revision": "maybe"}, "after_revision"),
    ("supportive-care", {"symptom": "headache"}, "symptom"),
    ("entity", {}, "entity"),
    ("targeted-drugs", [("kind", "IDHInhibitor"), ("kind", "FLT3Inhibitor")], "kind"),
])
def test_bad_parameters_are_400_naming_each(api, name, params, field):
    assert_problem(api.get("/api/queries/%s" % name, params=params), 400, field)


INJECTIONS = [
    "IDHInhibitor> } ; DROP ALL #",
    "IDHInhibitor> } UNION { ?drug ?p ?o } #",
    'IDHInhibitor" } UNION { ?s ?p ?o } #',
    "IDHInhibitor}\nSELECT * WHERE { ?s ?p ?o }",
    "https://w3id.org/amlkg/IDHInhibitor> } UNION { ?drug ?p ?o } #",
    "http://x> } <y",
    "amlkg:IDHInhibitor {",
    "' OR 1=1 --",
    "IDHInhibitor\r\n} LIMIT 1",
    "IDH\u0000Inhibitor",
    "{}",
    "x" * 20000,
]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("name, param", [("targeted-drugs", "kind"), ("approvals", "drug"),
                                         ("approvals", "after_revision"), ("supportive-care", "symptom"),
                                         ("recommendations", "recommendation"), ("entity", "entity")])
def test_injection_attempts_never_change_the_query(api, name, param, payload):
    r = api.get("/api/queries/%s" % name, params={param: payload})
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    if r.status_code == 400:
        assert_problem(r, 400, param)
        return
    body = r.json()
    normal = api.json("/api/queries/%s" % name, {"entity": "Ivosidenib"} if name == "entity" else None)
    assert body["columns"] == normal["columns"]
    assert len(body["rows"]) <= len(normal["rows"])


@pytest.mark.parametrize("field, payload", [("status", "relapsed> } ; DROP ALL #"),
                                            ("mutations", 'IDH1" } UNION { ?s ?p ?o }'),
                                            ("age", "45 } ; DROP ALL"), ("site", "cns\n}")])
def test_profile_injection_is_400(api, field, payload):
    params = {"status": "relapsed", field: payload}
    assert_problem(api.get("/api/queries/options", params=params), 400, field)
    assert_problem(api.get("/api/options", params=params), 400, field)


def test_the_graph_is_unchanged_after_the_attempts(api):
    health = api.json("/health")
    assert health["triples"] > 2000
    assert len(rows(api, "recommendations")) >= 30
