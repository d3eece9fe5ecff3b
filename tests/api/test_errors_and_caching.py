"""Every documented error as problem+json, never a 500 for bad input; ETags and 304."""
from __future__ import annotations

import pytest

from .conftest import assert_problem


@pytest.mark.parametrize("params, fields", [
    ({}, ["status"]),
    ({"status": "gone"}, ["status"]),
    ({"status": "relapsed", "age": "-3"}, ["age"]),
    ({"status": "relapsed", "age": "45.5"}, ["age"]),
    ({"status": "relapsed", "age": "131"}, ["age"]),
    ({"status": "relapsed", "remission_months": "soon"}, ["remission_months"]),
    ({"status": "relapsed", "remission_months": "nan"}, ["remission_months"]),
    ({"status": "relapsed", "remission_months": "-1"}, ["remission_months"]),
    ({"status": "relapsed", "mutations": "IDH1,not a gene!"}, ["mutations"]),
    ({"status": "relapsed", "disease": "CML"}, ["disease"]),
    ({"status": "relapsed", "prior_therapy": "magic"}, ["prior_therapy"]),
    ({"status": "relapsed", "site": "liver"}, ["site"]),
    ({"status": "relapsed", "symptoms": "pain,hiccups"}, ["symptoms"]),
    ({"status": "relapsed", "colour": "blue"}, ["colour"]),
    ({"status": "gone", "age": "x", "site": "liver"}, ["status", "age", "site"]),
    ([("status", "relapsed"), ("status", "refractory")], ["status"]),
])
def test_bad_profiles_are_400_naming_each_field(api, params, fields):
    body = assert_problem(api.get("/api/options", params=params), 400, *fields)
    assert body["type"].endswith("/invalid-profile") or body["type"].endswith("/invalid-parameters")


@pytest.mark.parametrize("body, fields", [
    ({"status": "relapsed", "mutations": "IDH1", "age": True}, ["age"]),
    ({"status": 5}, ["status"]),
    ({"status": "relapsed", "mutations": [{"gene": "IDH1"}]}, ["mutations"]),
    ({"status": "relapsed", "symptoms": {"pain": True}}, ["symptoms"]),
    ({"status": "relapsed", "remission_months": [3]}, ["remission_months"]),
    ({"status": None}, ["status"]),
])
def test_bad_json_fields_are_400(api, body, fields):
    assert_problem(api.post("/api/options", json=body), 400, *fields)


def test_json_lists_and_numbers(api):
    r = api.post("/api/options", json={"status": "relapsed", "mutations": ["idh1"], "age": 45.0,
                                       "remission_months": 8, "symptoms": ["pain"]})
    assert r.status_code == 200
    assert r.json()["profile"] == {"disease": "AML", "status": "relapsed", "mutations": ["IDH1"],
                                   "remission_months": 8, "age": 45, "site": "marrow", "symptoms": ["pain"]}


@pytest.mark.parametrize("data, content_type, status, field", [
    ("{not json", "application/json", 400, "body"),
    ("[1, 2]", "application/json", 400, "body"),
    ('"relapsed"', "application/json", 400, "body"),
    ("null", "application/json", 400, "body"),
    ("", "application/json", 400, "body"),
    ('{"status": "relapsed"}', "text/plain", 415, None),
    ("status=relapsed", "application/x-www-form-urlencoded", 415, None),
    (b"\xff\xfe\x00", "application/json", 400, "body"),
])
def test_bad_bodies(api, data, content_type, status, field):
    r = api.post("/api/options", data=data, headers={"Content-Type": content_type})
    assert_problem(r, status, *([field] if field else []))


def test_a_huge_body_is_413(api):
    r = api.post("/api/options", data=b'{"status": "relapsed", "x": "' + b"a" * 100_000 + b'"}',
                 headers={"Content-Type": "application/json"})
    assert_problem(r, 413)


def test_wrong_method_and_unknown_route(api):
    r = api.session.delete(api.base + "/api/options", timeout=10)
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]
    assert_problem(api.get("/api/nothing-here"), 404)


def test_etag_and_304(api):
    first = api.get("/api/options", params={"status": "relapsed", "mutations": "IDH1"})
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "no-cache"
    # the same profile written differently is the same request (a stated disease is not the same since
    # issue 16: the answer names the fields filled by default)
    same = api.get("/api/options", params={"status": "RELAPSED", "mutations": "idh1"})
    assert same.headers["ETag"] == etag and same.content == first.content
    r = api.get("/api/options", params={"status": "relapsed", "mutations": "IDH1"}, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag
    r = api.get("/api/options", params={"status": "relapsed", "mutations": "IDH1"},
                headers={"If-None-Match": 'W/"other", ' + etag})
    assert r.status_code == 304
    other = api.get("/api/options", params={"status": "relapsed", "mutations": "IDH2"})
    assert other.headers["ETag"] != etag
    r = api.get("/api/options", params={"status": "relapsed"}, headers={"If-None-Match": etag})
    assert r.status_code == 200


@pytest.mark.parametrize("path, params", [
    ("/api/ask", {"q": "options for IDH1+ relapse"}), ("/api/queries", None),
    ("/api/queries/targeted-drugs", {"kind": "IDHInhibitor"}), ("/api/entities/Ivosidenib", None),
    ("/api/search", {"q": "tibsovo"}), ("/openapi.json", None), ("/api/docs", None)])
def test_every_get_revalidates(api, path, params):
    r = api.get(path, params=params)
    assert r.status_code == 200 and r.headers["ETag"]
    again = api.get(path, params=params, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_the_etag_depends_on_the_representation(api):
    j = api.get("/api/queries/targeted-drugs")
    c = api.get("/api/queries/targeted-drugs", headers={"Accept": "text/csv"})
    assert j.headers["ETag"] != c.headers["ETag"]
    assert "Accept" in j.headers["Vary"]


def test_the_etag_carries_the_graph_version(api):
    version = api.json("/health")["graph_version"]
    assert api.get("/api/options", params={"status": "refractory"}).headers["ETag"].startswith('"' + version[:12])


def test_regression_tiny_remission_is_answered_not_500(api):
    """schemathesis found it: 1e-308 months made an ill-typed xsd:decimal and a 500 (now bound as 0)."""
    r = api.post("/api/options", json={"status": "refractory", "remission_months": 1.1125369292536007e-308})
    assert r.status_code == 200 and r.json()["options"]


@pytest.mark.parametrize("iri", ["http://\u009cØS", "https://\ue826éÄ", "http://a b"])
def test_regression_iri_with_invalid_code_points_is_400_not_500(api, iri):
    """schemathesis found it: an IRI the binder let through but the query parser refused."""
    assert_problem(api.get("/api/queries/targeted-drugs", params={"kind": iri}), 400, "kind")
    assert_problem(api.get("/api/entities/" + iri.replace(" ", "%20")), 404)
